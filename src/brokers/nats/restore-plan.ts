/**
 * What a JetStream restore does besides publishing, decided from the backup's metadata without
 * connecting: the streams to create when missing and the durable consumers to recreate.
 */
import type { SinkPlan } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import { asNatsAddress } from './address.js';
import { consumedThrough, type SavedConsumer, type SavedStreamConfig } from './definitions.js';

export interface PlannedConsumer {
  /** The archive stream it follows. */
  stream: string;
  sourceStream: string;
  targetStream: string;
  saved: SavedConsumer;
}

/** The saved config of a source stream, or null when the backup holds none. */
export function savedStreamConfig(plan: SinkPlan, source: string): SavedStreamConfig | null {
  const streams = plan.metadata.streams as Record<string, SavedStreamConfig> | undefined;
  const c = streams?.[source];
  return c && typeof c === 'object' && typeof c.name === 'string' ? c : null;
}

/** The saved durable consumers of the streams being restored. */
export function plannedConsumers(plan: SinkPlan): PlannedConsumer[] {
  const saved = plan.metadata.consumers as Record<string, SavedConsumer[]> | undefined;
  if (saved === undefined || typeof saved !== 'object' || saved === null) throw new MqbakError('not-found', `backup ${plan.backupId} holds no durable consumers`);
  const out: PlannedConsumer[] = [];
  for (const t of plan.targets) {
    const sourceStream = asNatsAddress(t.source).stream;
    for (const c of saved[sourceStream] ?? []) {
      out.push({ stream: t.name, sourceStream, targetStream: asNatsAddress(t.target).stream, saved: c });
    }
  }
  return out;
}

/** For --dry-run and the result: lines for people, the --json keys createStreams and consumers. */
export function planNotes(plan: SinkPlan, options: { definitions: boolean; renameSubject: (s: string) => string }): { lines: string[]; json: Record<string, unknown> } {
  const lines: string[] = [];
  const createStreams: Record<string, { from: string; subjects: string[] }> = {};
  for (const t of plan.targets) {
    const source = asNatsAddress(t.source).stream;
    const target = asNatsAddress(t.target).stream;
    const subjects = (savedStreamConfig(plan, source)?.subjects ?? []).map(options.renameSubject);
    createStreams[target] = { from: source, subjects };
    lines.push(`target stream ${target}: used if it exists, else created from the saved config of ${source} (subjects ${subjects.join(', ') || 'none saved'})`);
  }
  const consumers = options.definitions ? plannedConsumers(plan) : [];
  for (const c of consumers) {
    lines.push(`consumer ${c.saved.name}: acknowledged through ${consumedThrough(c.saved)} on ${c.sourceStream} -> recreated on ${c.targetStream} at the first message after it, once restored`);
  }
  return {
    lines,
    json: { createStreams, consumers: consumers.map((c) => ({ name: c.saved.name, stream: c.sourceStream, targetStream: c.targetStream, ackFloor: consumedThrough(c.saved) })) },
  };
}
