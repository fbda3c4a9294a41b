/**
 * What a Kafka restore decides before connecting (src/brokers/kafka/restore-plan.ts): target
 * topics, group plans, and where a committed offset lands through the offset runs.
 */
import { describe, expect, it } from 'vitest';
import type { OffsetRun, PlannedTarget, SinkPlan } from '../../../../src/brokers/adapter.js';
import { MqbakError } from '../../../../src/common/errors.js';
import { planGroups, planNotes, targetTopics, translateCommitted } from '../../../../src/brokers/kafka/restore-plan.js';
import { OffsetRunBuilder } from '../../../../src/brokers/kafka/stream-writer.js';

function target(topic: string, partition: number, to = topic): PlannedTarget {
  return { name: `kafka/${topic}/${partition}`, source: { topic, partition }, target: { topic: to, partition }, records: 1, from: 0n, to: 1n };
}

const metadata = {
  topics: { a: { partitions: 4, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } }, b: { partitions: 1, replicationFactor: 1, configs: 'unavailable' } },
  groups: { g1: { a: { '0': '5', '1': '7' }, other: { '0': '1' } }, g2: { b: { '0': '3' } } },
};

function plan(targets: PlannedTarget[]): SinkPlan {
  return { backupId: 'B1', metadata, renames: {}, targets };
}

function failure(f: () => unknown): MqbakError {
  try {
    f();
  } catch (e) {
    return e as MqbakError;
  }
  throw new Error('expected an error');
}

describe('kafka target topics', () => {
  it('keeps the source partition count and configs under the new name', () => {
    expect(targetTopics(plan([target('a', 0, 'a2'), target('a', 1, 'a2'), target('b', 0)]))).toEqual({
      a2: { source: 'a', partitions: 4, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } },
      b: { source: 'b', partitions: 1, replicationFactor: 1, configs: null },
    });
  });

  it('holds every restored partition even when the metadata says fewer', () => {
    expect(targetTopics(plan([target('b', 3)])).b!.partitions).toBe(4);
  });

  it('refuses two source topics restored into one target (their records would interleave)', () => {
    const e = failure(() => targetTopics(plan([target('a', 0, 'x'), target('b', 0, 'x')])));
    expect(e.code).toBe('usage');
    expect(e.message).toBe('topics a and b would both be restored into x');
  });
});

describe('kafka group plans', () => {
  it('lists the named groups on the restored topics only, under their target names', () => {
    expect(planGroups(plan([target('a', 0, 'a2')]), { groups: ['g1'] })).toEqual([
      { group: 'g1', topic: 'a', targetTopic: 'a2', partition: 0, committed: '5', target: null },
      { group: 'g1', topic: 'a', targetTopic: 'a2', partition: 1, committed: '7', target: null },
    ]);
    expect(planGroups(plan([target('b', 0)]), { allGroups: true }).map((g) => g.group)).toEqual(['g2']);
    expect(planGroups(plan([target('a', 0)]), {})).toEqual([]);
  });

  it('a group the backup does not hold, or a backup without groups, is not-found', () => {
    const e = failure(() => planGroups(plan([target('a', 0)]), { groups: ['nope'] }));
    expect([e.code, e.message]).toEqual(['not-found', 'group nope is not in backup B1']);
    const none = failure(() => planGroups({ ...plan([target('a', 0)]), metadata: { groups: 'unavailable' } }, { groups: ['g1'] }));
    expect([none.code, none.message]).toEqual(['not-found', 'backup B1 holds no consumer group offsets']);
    expect(planGroups({ ...plan([target('a', 0)]), metadata: { groups: 'unavailable' } }, { allGroups: true })).toEqual([]);
  });

  it('notes for the dry run', () => {
    const n = planNotes(plan([target('a', 0, 'a2')]), { groups: ['g1'] });
    expect(n.lines).toEqual([
      'target topic a2: 4 partitions (created if missing)',
      'group g1: a[0] committed 5 -> translated on a2 after the restore',
      'group g1: a[1] committed 7 -> translated on a2 after the restore',
    ]);
    expect(Object.keys(n.json)).toEqual(['createTopics', 'groups']);
  });
});

describe('kafka offset runs and committed offsets', () => {
  const runsOf = (pairs: Array<[bigint, bigint]>): OffsetRun[] => {
    const b = new OffsetRunBuilder('kafka/a/0', { topic: 'a', partition: 0 }, { topic: 'b', partition: 0 });
    for (const [s, t] of pairs) b.add(s, t);
    return b.runs;
  };

  it('groups consecutive source offsets into runs and splits at gaps', () => {
    const runs = runsOf([[5n, 100n], [6n, 101n], [7n, 102n], [10n, 103n], [11n, 104n], [20n, 105n]]);
    expect(runs.map((r) => [r.sourceStart, r.sourceEnd, r.targetStart])).toEqual([
      [5n, 7n, 100n],
      [10n, 11n, 103n],
      [20n, 20n, 105n],
    ]);
    expect(runs[0]).toMatchObject({ stream: 'kafka/a/0', source: { topic: 'a', partition: 0 }, target: { topic: 'b', partition: 0 } });
  });

  it('addPositions makes the same runs as add, one record at a time', () => {
    const positions = [3, 4, 5, 9, 10, 12];
    const a = new OffsetRunBuilder('s', {}, {});
    a.addPositions(positions, 1, 6, 50n);
    const b = new OffsetRunBuilder('s', {}, {});
    for (let i = 1; i < 6; i++) b.add(BigInt(positions[i]!), 50n + BigInt(i - 1));
    expect(a.runs).toEqual(b.runs);
  });

  it('translates a committed offset to the first restored record at or after it', () => {
    const runs = runsOf([[5n, 0n], [6n, 1n], [7n, 2n], [10n, 3n], [11n, 4n]]);
    expect(translateCommitted(runs, 0n, 99n)).toBe(0n); // before everything
    expect(translateCommitted(runs, 6n, 99n)).toBe(1n); // inside a run
    expect(translateCommitted(runs, 8n, 99n)).toBe(3n); // in a gap: the next restored record
    expect(translateCommitted(runs, 11n, 99n)).toBe(4n);
    expect(translateCommitted(runs, 12n, 99n)).toBe(99n); // past the end: log end
    expect(translateCommitted([], 3n, 7n)).toBe(7n);
  });
});
