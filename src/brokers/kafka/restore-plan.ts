/**
 * What a Kafka restore does besides writing records, decided without connecting: the target
 * topics to create (partition counts and configs from the backup) and the consumer groups whose
 * committed offsets are translated through the offset runs once every partition is written.
 */
import type { AdapterOptionValues, OffsetRun, SinkPlan } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import { asKafkaAddress } from './address.js';
import { listOption, repartitionOf } from './options.js';

export interface TargetTopic {
  /** The backed-up topic it is restored from. */
  source: string;
  partitions: number;
  replicationFactor: number;
  /** Non-default topic configs saved by the backup; null when the broker did not tell them. */
  configs: Record<string, string> | null;
}

interface SavedTopic {
  partitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string> | 'unavailable';
}

/**
 * The target topics by name, created with the source's partition count (or more, to hold every
 * restored partition). Two source topics restored into one target would interleave their records
 * (no offset map, no resume): refused. With --repartition the records go where their keys say
 * whatever their source partition: a missing topic is created with --partitions, else with the
 * source's count.
 */
export function targetTopics(plan: SinkPlan, repartition: { partitions: number | null } | null = null): Record<string, TargetTopic> {
  const saved = (plan.metadata.topics ?? {}) as Record<string, SavedTopic>;
  const topics: Record<string, TargetTopic> = {};
  for (const t of plan.targets) {
    const source = asKafkaAddress(t.source);
    const target = asKafkaAddress(t.target);
    const cur = topics[target.topic];
    if (cur !== undefined && cur.source !== source.topic) {
      throw new MqbakError('usage', `topics ${cur.source} and ${source.topic} would both be restored into ${target.topic}`, { hint: 'give each a target of its own with --map' });
    }
    const m = saved[source.topic];
    topics[target.topic] = {
      source: source.topic,
      partitions: repartition?.partitions ?? Math.max(m?.partitions ?? 0, cur?.partitions ?? 0, (repartition ? source : target).partition + 1),
      replicationFactor: m?.replicationFactor ?? 1,
      configs: m && m.configs && m.configs !== 'unavailable' ? m.configs : null,
    };
  }
  return topics;
}

/** One committed offset of a group, and where it lands on the target (known after the restore). */
export interface GroupPlan {
  group: string;
  topic: string;
  targetTopic: string;
  partition: number;
  committed: string;
  target: string | null;
}

/**
 * The saved commits of the groups asked for (--groups, or every saved one with --all-groups) on
 * the topics being restored. A group the backup does not hold is 'not-found'.
 */
export function planGroups(plan: SinkPlan, options: AdapterOptionValues): GroupPlan[] {
  const saved = plan.metadata.groups;
  const held = typeof saved === 'object' && saved !== null;
  const names = options.allGroups ? (held ? Object.keys(saved) : []) : (listOption(options, 'groups') ?? []);
  if (names.length > 0 && !held) throw new MqbakError('not-found', `backup ${plan.backupId} holds no consumer group offsets`);
  const offsets = (saved ?? {}) as Record<string, Record<string, Record<string, string>>>;
  for (const g of names) if (!offsets[g]) throw new MqbakError('not-found', `group ${g} is not in backup ${plan.backupId}`);
  const targetOf = new Map<string, string>();
  for (const t of plan.targets) {
    const source = asKafkaAddress(t.source).topic;
    if (!targetOf.has(source)) targetOf.set(source, asKafkaAddress(t.target).topic);
  }
  const out: GroupPlan[] = [];
  for (const group of names) {
    for (const [topic, partitions] of Object.entries(offsets[group]!)) {
      const targetTopic = targetOf.get(topic);
      if (targetTopic === undefined) continue;
      for (const [p, committed] of Object.entries(partitions)) out.push({ group, topic, targetTopic, partition: Number(p), committed, target: null });
    }
  }
  return out;
}

/** The plan for --dry-run and the result: lines for people, the --json keys createTopics and groups. */
export function planNotes(plan: SinkPlan, options: AdapterOptionValues): { lines: string[]; json: Record<string, unknown> } {
  const repartition = repartitionOf(options);
  const topics = targetTopics(plan, repartition);
  const groups = planGroups(plan, options);
  const lines: string[] = [];
  for (const [t, i] of Object.entries(topics)) {
    if (!repartition) lines.push(`target topic ${t}: ${i.partitions} partitions (created if missing)`);
    else if (repartition.partitions !== null) lines.push(`target topic ${t}: ${i.partitions} partitions (created if missing, refused if it has another count), records placed by key`);
    else lines.push(`target topic ${t}: records placed by key over its partitions (created with ${i.partitions} if missing)`);
  }
  for (const g of groups) lines.push(`group ${g.group}: ${g.topic}[${g.partition}] committed ${g.committed} -> translated on ${g.targetTopic} after the restore`);
  return { lines, json: { createTopics: topics, groups, ...(repartition ? { repartition: true } : {}) } };
}

/**
 * Where a consumer committed at source position `committed` resumes on the target: the target
 * position of the first restored record whose source position is >= committed, or `targetEnd`
 * (the log end) when there is none. Never skips a record the consumer had not read.
 * `runs` are the runs of one partition, in order.
 */
export function translateCommitted(runs: readonly OffsetRun[], committed: bigint, targetEnd: bigint): bigint {
  for (const r of runs) {
    if (r.sourceEnd < committed) continue;
    if (committed <= r.sourceStart) return r.targetStart;
    return r.targetStart + (committed - r.sourceStart);
  }
  return targetEnd;
}
