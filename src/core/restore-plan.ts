/**
 * The pure restore planner: from a resolved chain (full first) and the user's choices, which
 * streams go where, from which backups, in which order. Broker-neutral in shape; Kafka uses it.
 */
import type { Manifest, StreamEntry } from '../archive/manifest.js';
import { MqbakError } from '../common/errors.js';

export interface PlannedStream {
  topic: string;
  partition: number;
  targetTopic: string;
  targetPartition: number;
  /** The stream entries to read, in chain order (each starts where the previous ended). */
  parts: Array<{ backupId: string; stream: StreamEntry }>;
  /** Records stored for it (before --until). */
  records: number;
  from: bigint;
  to: bigint;
}

export interface RestorePlan {
  backupId: string;
  until: number | null;
  streams: PlannedStream[];
  /** target topic -> partition count to create with */
  topics: Record<string, { source: string; partitions: number; replicationFactor: number; configs: Record<string, string> | null }>;
}

export function planKafkaRestore(chain: Manifest[], options: { topics?: string[]; map?: Record<string, string>; until?: number | null }): RestorePlan {
  const head = chain[chain.length - 1];
  if (!head) throw new MqbakError('internal', 'empty chain');
  const byName = new Map<string, PlannedStream>();
  const present = new Set<string>();
  for (const m of chain) {
    for (const s of m.streams) {
      // a Kafka stream's address is {topic, partition}
      const a = s.address as { topic?: unknown; partition?: unknown };
      if (m.source.broker !== 'kafka' || typeof a.topic !== 'string' || typeof a.partition !== 'number') continue;
      const kafka = { topic: a.topic, partition: a.partition };
      present.add(kafka.topic);
      if (options.topics && !options.topics.includes(kafka.topic)) continue;
      let p = byName.get(s.name);
      if (!p) {
        const target = options.map?.[kafka.topic] ?? kafka.topic;
        p = { topic: kafka.topic, partition: kafka.partition, targetTopic: target, targetPartition: kafka.partition, parts: [], records: 0, from: BigInt(s.from), to: BigInt(s.from) };
        byName.set(s.name, p);
      } else if (BigInt(s.from) !== p.to) {
        // a later backup restarted the partition (new full); keep only what follows consistently
        if (BigInt(s.from) < p.to) throw new MqbakError('integrity', `${s.name}: backup ${m.id} starts at ${s.from}, before ${p.to} where the previous one ended`);
      }
      p.parts.push({ backupId: m.id, stream: s });
      p.records += s.records;
      p.to = BigInt(s.to);
    }
  }
  for (const t of options.topics ?? []) if (!present.has(t)) throw new MqbakError('not-found', `topic ${t} is not in backup ${head.id}`);
  for (const src of Object.keys(options.map ?? {})) if (!present.has(src)) throw new MqbakError('usage', `--map ${src}=...: topic ${src} is not in backup ${head.id}`);
  const streams = [...byName.values()].sort((a, b) => (a.targetTopic < b.targetTopic ? -1 : a.targetTopic > b.targetTopic ? 1 : a.partition - b.partition));
  // two source topics into one target would interleave their records: no offset map, no resume
  const into = new Map<string, string>();
  for (const s of streams) {
    const other = into.get(s.targetTopic);
    if (other !== undefined && other !== s.topic) {
      throw new MqbakError('usage', `topics ${other} and ${s.topic} would both be restored into ${s.targetTopic}`, { hint: 'give each a target of its own with --map' });
    }
    into.set(s.targetTopic, s.topic);
  }
  const topics: RestorePlan['topics'] = {};
  const meta = (head.metadata.topics ?? {}) as Record<string, { partitions?: number; replicationFactor?: number; configs?: Record<string, string> | 'unavailable' }>;
  for (const s of streams) {
    const cur = topics[s.targetTopic];
    const m = meta[s.topic];
    const partitions = Math.max(m?.partitions ?? 0, (cur?.partitions ?? 0), s.partition + 1);
    topics[s.targetTopic] = {
      source: s.topic,
      partitions,
      replicationFactor: m?.replicationFactor ?? 1,
      configs: m && m.configs && m.configs !== 'unavailable' ? m.configs : null,
    };
  }
  return { backupId: head.id, until: options.until ?? null, streams, topics };
}
