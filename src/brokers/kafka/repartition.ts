/**
 * What the Kafka sink checks and works out before a repartitioned restore writes
 * (restore --repartition): the target topics' partition counts (an existing topic with another
 * count than --partitions is refused before anything is created or written), non-empty targets,
 * and, when an interrupted run is resumed, how many records of each source partition each target
 * partition already holds.
 */
import type { JournalEntry, SinkPlan } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import { asKafkaAddress } from './address.js';
import type { KafkaAdmin } from './admin.js';
import { lanesOf } from './fanout-writer.js';
import type { TargetTopic } from './restore-plan.js';

/** A journal of a restore run with --repartition has entries with `repartition`; one without, not. */
export function refuseOtherJournal(journal: ReadonlyMap<string, JournalEntry> | null, repartition: boolean): void {
  for (const [name, e] of journal ?? []) {
    if ('repartition' in e === repartition) continue;
    throw new MqbakError('usage', `the interrupted restore of ${name} was run ${repartition ? 'without' : 'with'} --repartition`, {
      hint: `run it again as it was (${repartition ? 'without' : 'with'} --repartition), or delete its journal (--journal) to start over`,
    });
  }
}

/**
 * The partition count of each target topic: an existing topic's own (refused when --partitions
 * names another), a missing one's from the plan (--partitions, else the source's), created here.
 * Every existing topic is checked before any is created.
 */
export async function targetCounts(admin: KafkaAdmin, topics: Record<string, TargetTopic>, wanted: number | null, info: (m: string) => void): Promise<Map<string, number>> {
  const existing = new Set(await admin.listTopics());
  const counts = new Map<string, number>();
  for (const t of Object.keys(topics)) {
    if (!existing.has(t)) continue;
    const n = (await admin.partitions(t)).length;
    if (wanted !== null && n !== wanted) {
      throw new MqbakError('usage', `target topic ${t} exists with ${n} partitions, not ${wanted} (--partitions)`, {
        hint: `leave --partitions out to restore into its ${n} partitions, or restore under another name with --map`,
      });
    }
    counts.set(t, n);
  }
  for (const [t, i] of Object.entries(topics)) {
    if (existing.has(t)) continue;
    info(`creating topic ${t} with ${i.partitions} partitions`);
    await admin.createTopic(t, i.partitions, i.replicationFactor, i.configs ?? {});
    counts.set(t, i.partitions);
  }
  return counts;
}

/**
 * For each stream an interrupted run started: per target partition, the end of what it wrote
 * there (the start of the next stream of its topic that run started, else the partition's end
 * now). Streams are written in plan order, one at a time: a stream without an entry before one
 * with an entry is a journal this restore did not write.
 */
export function resumeBounds(
  plan: SinkPlan,
  journal: ReadonlyMap<string, JournalEntry> | null,
  counts: ReadonlyMap<string, number>,
  ends: (topic: string, partition: number) => bigint,
): Map<string, bigint[]> {
  const bounds = new Map<string, bigint[]>();
  if (!journal) return bounds;
  const byTopic = new Map<string, string[]>();
  for (const t of plan.targets) {
    const topic = asKafkaAddress(t.target).topic;
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), t.name]);
  }
  for (const [topic, names] of byTopic) {
    const n = counts.get(topic)!;
    let bound = Array.from({ length: n }, (_, p) => ends(topic, p));
    let later: string | null = null;
    for (const name of [...names].reverse()) {
      const saved = journal.get(name);
      if (saved === undefined) {
        if (later !== null) throw new MqbakError('integrity', `restore journal: ${later} was started but ${name}, written before it, was not`, { hint: 'delete the journal to start the restore over' });
        continue;
      }
      const lanes = lanesOf(name, saved);
      if (lanes.length !== n) {
        throw new MqbakError('usage', `the interrupted restore spread ${name} over ${lanes.length} partitions; ${topic} now has ${n}`, { hint: 'delete the journal and the target topic to start over' });
      }
      bounds.set(name, bound);
      bound = lanes.map((l) => l.initialEnd);
      later = name;
    }
  }
  return bounds;
}
