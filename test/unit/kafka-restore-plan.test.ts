import { describe, expect, it } from 'vitest';
import type { Manifest, StreamEntry } from '../../src/archive/manifest.js';
import { planKafkaRestore } from '../../src/core/restore-plan.js';

function stream(topic: string, partition: number, from: number, to: number, records: number): StreamEntry {
  return { name: `kafka/${topic}/${partition}`, address: { topic, partition }, from: String(from), to: String(to), records, segments: [], gaps: [], extra: {} };
}
function manifest(id: string, streams: StreamEntry[], metadata: Record<string, unknown> = {}): Manifest {
  return {
    format: 'mqbak', version: 1, id, kind: 'full', parent: null,
    source: { broker: 'kafka', url: 'kafka://x', chainKey: 'k', options: {} },
    streams, metadata, tool: { name: 'mqbak', version: '0' }, startedAt: '', endedAt: '', warnings: [],
  };
}

describe('kafka restore planner', () => {
  const full = manifest('20261125T000000000Z-aaaaaa', [stream('a', 0, 0, 10, 10), stream('a', 1, 0, 4, 4), stream('b', 0, 3, 5, 2)], {
    topics: { a: { partitions: 3, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } }, b: { partitions: 1, replicationFactor: 1, configs: 'unavailable' } },
  });
  const inc = manifest('20261125T000001000Z-bbbbbb', [stream('a', 0, 10, 15, 5), stream('a', 1, 4, 4, 0), stream('a', 2, 0, 2, 2), stream('b', 0, 5, 6, 1)], full.metadata);

  it('chains parts in order, renames, keeps partition numbers and the original partition count', () => {
    const p = planKafkaRestore([full, inc], { map: { a: 'a2' } });
    expect(p.backupId).toBe(inc.id);
    const a0 = p.streams.find((s) => s.topic === 'a' && s.partition === 0)!;
    expect(a0.targetTopic).toBe('a2');
    expect(a0.targetPartition).toBe(0);
    expect(a0.parts.map((x) => x.backupId)).toEqual([full.id, inc.id]);
    expect([a0.from, a0.to, a0.records]).toEqual([0n, 15n, 15]);
    const a2 = p.streams.find((s) => s.topic === 'a' && s.partition === 2)!;
    expect(a2.parts.map((x) => x.backupId)).toEqual([inc.id]); // new partition in the incremental
    expect(p.topics.a2).toEqual({ source: 'a', partitions: 3, replicationFactor: 1, configs: { 'cleanup.policy': 'compact' } });
    expect(p.topics.b!.configs).toBeNull();
  });

  it('filters topics and rejects unknown names', () => {
    const p = planKafkaRestore([full, inc], { topics: ['b'] });
    expect(p.streams.map((s) => `${s.topic}/${s.partition}`)).toEqual(['b/0']);
    expect(() => planKafkaRestore([full], { topics: ['zz'] })).toThrow(/not in backup/);
    expect(() => planKafkaRestore([full], { map: { zz: 'y' } })).toThrow(/not in backup/);
  });

  it('refuses two source topics restored into one target (their records would interleave)', () => {
    expect(() => planKafkaRestore([full, inc], { map: { a: 'x', b: 'x' } })).toThrow(/topics a and b would both be restored into x/);
    expect(() => planKafkaRestore([full, inc], { map: { a: 'b' } })).toThrow(/would both be restored into b/);
    // renaming onto a name that is free is fine
    expect(planKafkaRestore([full, inc], { map: { a: 'b', b: 'a' } }).streams.map((s) => `${s.topic}->${s.targetTopic}`).sort()).toEqual(['a->b', 'a->b', 'a->b', 'b->a']);
  });

  it('refuses a chain whose part starts before the previous one ended', () => {
    const bad = manifest('20261125T000002000Z-cccccc', [stream('a', 0, 5, 20, 15)]);
    expect(() => planKafkaRestore([full, bad], {})).toThrow(/before/);
  });
});
