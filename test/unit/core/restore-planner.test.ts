import { describe, expect, it } from 'vitest';
import type { Manifest, StreamEntry } from '../../../src/archive/manifest.js';
import type { StreamAddress } from '../../../src/brokers/adapter.js';
import { planRestore, type StreamNaming } from '../../../src/core/restore-planner.js';

// the naming of a broker with topics and partitions, as the planner sees an adapter
const naming: StreamNaming = {
  streamNoun: 'partition',
  selectorOf: (a: StreamAddress) => String(a.topic),
  renamed: (a: StreamAddress, n: string) => ({ ...a, topic: n }),
};
const noun = { ...naming, streamNoun: 'queue', selectorOf: (a: StreamAddress) => String(a.queue), renamed: (a: StreamAddress, n: string) => ({ ...a, queue: n }) };

function stream(topic: string, partition: number, from: number, to: number, records: number): StreamEntry {
  return { name: `kafka/${topic}/${partition}`, address: { topic, partition }, from: String(from), to: String(to), records, segments: [], gaps: [], extra: {} };
}
function manifest(id: string, streams: StreamEntry[]): Manifest {
  return {
    format: 'mqbak', version: 2, id, kind: 'full', parent: null,
    source: { broker: 'kafka', url: 'kafka://x', chainKey: 'k', options: {} },
    streams, metadata: {}, tool: { name: 'mqbak', version: '0' }, startedAt: '', endedAt: '', warnings: [],
  } as Manifest;
}

describe('restore planner', () => {
  const full = manifest('20261125T000000000Z-aaaaaa', [stream('a', 0, 0, 10, 10), stream('a', 1, 0, 4, 4), stream('b', 0, 3, 5, 2)]);
  const inc = manifest('20261125T000001000Z-bbbbbb', [stream('a', 0, 10, 15, 5), stream('a', 1, 4, 4, 0), stream('a', 2, 0, 2, 2), stream('b', 0, 5, 6, 1)]);

  it('chains each stream\'s parts in order and renames through the adapter', () => {
    const p = planRestore([full, inc], naming, { renames: { a: 'a2' } });
    expect(p.backupId).toBe(inc.id);
    expect(p.chain).toEqual([full.id, inc.id]);
    const a0 = p.streams.find((s) => s.name === 'kafka/a/0')!;
    expect(a0.target).toEqual({ topic: 'a2', partition: 0 });
    expect(a0.source).toEqual({ topic: 'a', partition: 0 });
    expect(a0.parts.map((x) => x.backupId)).toEqual([full.id, inc.id]);
    expect([a0.from, a0.to, a0.records]).toEqual([0n, 15n, 15]);
    // a stream new in the incremental
    expect(p.streams.find((s) => s.name === 'kafka/a/2')!.parts.map((x) => x.backupId)).toEqual([inc.id]);
    // grouped by target, in the order the backups hold them
    expect(p.streams.map((s) => s.name)).toEqual(['kafka/a/0', 'kafka/a/1', 'kafka/a/2', 'kafka/b/0']);
  });

  it('selects by selector and refuses unknown names with the adapter\'s noun', () => {
    expect(planRestore([full, inc], naming, { streams: ['b'] }).streams.map((s) => s.name)).toEqual(['kafka/b/0']);
    expect(() => planRestore([full], naming, { streams: ['zz'] })).toThrow(/partition zz is not in backup/);
    expect(() => planRestore([full], naming, { renames: { zz: 'y' } })).toThrow(/--map zz=\.\.\.: partition zz is not in backup/);
    const q = manifest('20261125T000000000Z-cccccc', [{ ...stream('x', 0, 0, 1, 1), name: 'rabbitmq/v/jobs', address: { vhost: 'v', queue: 'jobs', queueType: 'classic' } }]);
    expect(() => planRestore([q], noun, { streams: ['nope'] })).toThrow(/queue nope is not in backup/);
  });

  it('refuses two sources restored into one target (their records would interleave)', () => {
    expect(() => planRestore([full, inc], naming, { renames: { a: 'x', b: 'x' } })).toThrow(/partitions a and b would both be restored into x/);
    expect(() => planRestore([full, inc], naming, { renames: { a: 'b' } })).toThrow(/would both be restored into b/);
    // swapping names is fine
    const swapped = planRestore([full, inc], naming, { renames: { a: 'b', b: 'a' } });
    expect(swapped.streams.map((s) => `${String(s.source.topic)}->${String(s.target.topic)}`).sort()).toEqual(['a->b', 'a->b', 'a->b', 'b->a']);
  });

  it('refuses a chain whose part starts before the previous one ended', () => {
    const bad = manifest('20261125T000002000Z-cccccc', [stream('a', 0, 5, 20, 15)]);
    expect(() => planRestore([full, bad], naming)).toThrow(/kafka\/a\/0: backup .* starts at 5, before 10/);
  });
});
