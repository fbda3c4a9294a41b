/**
 * How `restore --check` reads a JetStream restore back (docs/NATS.md): each target stream by
 * sequence over the sequences the restore mapped, through the backup source's ordered consumer
 * (which changes nothing). Compared: the data, the headers in order and the subject (renamed by
 * --subject-map as the restore renamed it). Not compared: the timestamp (JetStream stamps its own
 * when a message is stored).
 * A work-queue target cannot be read without removing its messages: the check refuses it.
 */
import type { AdapterOptionValues, CheckedRecord, ReadBack, SinkPlan } from '../adapter.js';
import type { ArchiveRecord } from '../../common/record.js';
import { asNatsAddress } from './address.js';
import { restoreChoices } from './options.js';

const EMPTY = new Uint8Array(0);

export function natsReadBack(plan: SinkPlan, options: AdapterOptionValues): ReadBack {
  const streams = [...new Set(plan.targets.map((t) => asNatsAddress(t.target).stream))];
  const { renameSubject } = restoreChoices(options);
  return {
    sourceOptions: { streams, mode: 'mirror' },
    checked(r: ArchiveRecord, side: 'archive' | 'target'): CheckedRecord {
      const subject = (r.attributes as { subject?: unknown } | null)?.subject;
      const s = typeof subject === 'string' && side === 'archive' ? renameSubject(subject) : (subject ?? null);
      return { key: r.key, value: r.value ?? EMPTY, headers: r.headers, attributes: { subject: s as string | null } };
    },
  };
}
