/**
 * The restore planner, one for every broker, pure: from a resolved chain (full first) and the
 * user's choices, which streams go where, read from which backups in which order. Streams are
 * selected and renamed by their adapter's selector (Kafka: the topic; RabbitMQ: the queue).
 */
import type { BrokerAdapter, PlannedTarget } from '../brokers/adapter.js';
import type { Manifest, StreamEntry } from '../archive/manifest.js';
import { MqbakError } from '../common/errors.js';

/** What the planner needs of an adapter: how streams are named. */
export type StreamNaming = Pick<BrokerAdapter, 'selectorOf' | 'renamed' | 'streamNoun'>;

export interface PlannedStream extends PlannedTarget {
  /** The stream entries to read, in chain order (each starts where the previous one ended). */
  parts: Array<{ backupId: string; stream: StreamEntry }>;
}

export interface RestorePlan {
  backupId: string;
  /** Backup ids of the chain, full first. */
  chain: string[];
  streams: PlannedStream[];
  /** Selector renames from --map. */
  renames: Record<string, string>;
}

export interface PlanChoices {
  /** Selectors to restore (--streams); all when absent or empty. */
  streams?: readonly string[];
  /** --map old=new, by selector. */
  renames?: Readonly<Record<string, string>>;
}

export function planRestore(chain: readonly Manifest[], naming: StreamNaming, choices: PlanChoices = {}): RestorePlan {
  const head = chain[chain.length - 1];
  if (!head) throw new MqbakError('internal', 'empty chain');
  const noun = naming.streamNoun;
  const renames = { ...(choices.renames ?? {}) };
  const wanted = choices.streams && choices.streams.length > 0 ? new Set(choices.streams) : null;
  const byName = new Map<string, PlannedStream>();
  const present = new Set<string>();
  for (const m of chain) {
    for (const s of m.streams) {
      const selector = naming.selectorOf(s.address);
      present.add(selector);
      if (wanted && !wanted.has(selector)) continue;
      let p = byName.get(s.name);
      if (!p) {
        const target = renames[selector] === undefined ? { ...s.address } : naming.renamed(s.address, renames[selector]!);
        p = { name: s.name, source: s.address, target, parts: [], records: 0, from: BigInt(s.from), to: BigInt(s.from) };
        byName.set(s.name, p);
      } else if (BigInt(s.from) < p.to) {
        throw new MqbakError('integrity', `${s.name}: backup ${m.id} starts at ${s.from}, before ${p.to} where the previous one ended`);
      }
      p.parts.push({ backupId: m.id, stream: s });
      p.records += s.records;
      p.to = BigInt(s.to);
    }
  }
  for (const x of wanted ?? []) {
    if (!present.has(x)) throw new MqbakError('not-found', `${noun} ${x} is not in backup ${head.id}`, { hint: `the backup holds: ${[...present].sort().join(', ') || 'nothing'}` });
  }
  for (const src of Object.keys(renames)) {
    if (!present.has(src)) throw new MqbakError('usage', `--map ${src}=...: ${noun} ${src} is not in backup ${head.id}`);
  }
  // streams in the order the backups hold them, grouped by target
  const streams = [...byName.values()];
  const order = new Map(streams.map((s, i) => [s, i]));
  const key = (s: PlannedStream) => naming.selectorOf(s.target);
  streams.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : order.get(a)! - order.get(b)!));
  // two sources into one target would interleave their records: no offset map, no resume
  const into = new Map<string, string>();
  for (const s of streams) {
    const target = key(s);
    const source = naming.selectorOf(s.source);
    const other = into.get(target);
    if (other !== undefined && other !== source) {
      throw new MqbakError('usage', `${noun}s ${other} and ${source} would both be restored into ${target}`, { hint: 'give each a target of its own with --map' });
    }
    into.set(target, source);
  }
  return { backupId: head.id, chain: chain.map((m) => m.id), streams, renames };
}
