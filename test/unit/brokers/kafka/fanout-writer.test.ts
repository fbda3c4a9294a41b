/**
 * The writer of one source partition of a repartitioned restore (src/brokers/kafka/fanout-writer.ts)
 * with a stand-in for the producer that stores each batch at the end of its partition: where each
 * record goes, the offset runs, resume leaving out a prefix of each target partition's share, the
 * journal entry and the producer identity taken over. The real producer and broker are in
 * test/e2e/kafka-repartition.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { PlannedTarget } from '../../../../src/brokers/adapter.js';
import { FanoutWriter, type LaneStart } from '../../../../src/brokers/kafka/fanout-writer.js';
import { keyPartition } from '../../../../src/brokers/kafka/partitioner.js';
import type { KafkaProducer } from '../../../../src/brokers/kafka/producer.js';
import { columnsOf, type ArchiveRecord, type RecordSlice } from '../../../../src/common/record.js';

const target: PlannedTarget = { name: 'kafka/a/4', source: { topic: 'a', partition: 4 }, target: { topic: 'b', partition: 4 }, records: 0, from: 0n, to: 0n };
const signal = new AbortController().signal;
const COUNT = 3;

/** Records at positions 0..n-1: every third keyless, the others keyed k<i mod 7>. */
function records(n: number): RecordSlice[] {
  const recs: ArchiveRecord[] = Array.from({ length: n }, (_, i) => ({
    position: BigInt(i),
    timestamp: 0,
    timestampType: null,
    key: i % 3 === 0 ? null : Buffer.from(`k${i % 7}`),
    value: Buffer.from(`v${i}`),
    headers: [],
    attributes: null,
  }));
  return [{ cols: columnsOf(recs), from: 0, to: n }];
}

/** Where the writer must put record i. */
const placeOf = (i: number): number => (i % 3 === 0 ? 4 % COUNT : keyPartition(Buffer.from(`k${i % 7}`), 0, 2, COUNT));

/** Stores each batch at its partition's end; remembers the positions stored per partition and what was adopted. */
class StandIn {
  readonly stored = new Map<number, number[]>();
  readonly adopted: Array<[number, number]> = [];
  constructor(readonly ends: bigint[]) {}
  prepare(_t: string, p: number, slices: readonly RecordSlice[]) {
    const positions = slices.flatMap((s) => Array.from({ length: s.to - s.from }, (_, k) => s.cols.position[s.from + k]!));
    return { p, positions };
  }
  async transmit(b: { p: number; positions: number[] }): Promise<bigint> {
    const base = this.ends[b.p]!;
    this.ends[b.p] = base + BigInt(b.positions.length);
    this.stored.set(b.p, [...(this.stored.get(b.p) ?? []), ...b.positions]);
    return base;
  }
  position() {
    return { producerId: 9n, producerEpoch: 0, nextSequence: 0 };
  }
  adopt(_t: string, p: number, _id: bigint, _epoch: number, next: number) {
    this.adopted.push([p, next]);
  }
}

function lanes(ends: bigint[], already: bigint[] = ends.map(() => 0n)): LaneStart[] {
  return ends.map((e, p) => ({ partition: p, initialEnd: e, identity: { producerId: 9n, producerEpoch: 0, sequenceStart: 100 + p }, already: already[p]! }));
}

async function restore(w: FanoutWriter, n: number): Promise<number> {
  let written = (await w.write(records(n), signal)).written;
  written += (await w.write([], signal)).written;
  return written;
}

describe('kafka repartition writer', () => {
  it("puts each record in its key's partition (keyless: the source partition mod the count), in source order; runs break where the target partition changes", async () => {
    const producer = new StandIn([5n, 0n, 0n]);
    let closedEnds: ReadonlyMap<number, bigint> | null = null;
    const w = new FanoutWriter(producer as unknown as KafkaProducer, target, lanes([5n, 0n, 0n]), (e) => (closedEnds = e));
    expect(w.resume).toBeNull();
    expect(await restore(w, 40)).toBe(40);
    const runs = await w.close();
    for (let p = 0; p < COUNT; p++) expect(producer.stored.get(p) ?? []).toEqual(Array.from({ length: 40 }, (_, i) => i).filter((i) => placeOf(i) === p));
    // the runs map every position to where it was stored, in source order
    expect(runs.map((r) => r.sourceStart)).toEqual([...runs.map((r) => r.sourceStart)].sort((a, b) => Number(a - b)));
    for (let i = 0; i < 40; i++) {
      const run = runs.find((r) => r.sourceStart <= BigInt(i) && BigInt(i) <= r.sourceEnd)!;
      const p = placeOf(i);
      expect(run.target).toEqual({ topic: 'b', partition: p });
      const base = p === 0 ? 5 : 0;
      expect(Number(run.targetStart + BigInt(i) - run.sourceStart)).toBe(base + producer.stored.get(p)!.indexOf(i));
    }
    for (const r of runs) for (let i = Number(r.sourceStart); i <= Number(r.sourceEnd); i++) expect(placeOf(i)).toBe((r.target as { partition: number }).partition);
    expect(closedEnds).toEqual(new Map(producer.ends.map((e, p) => [p, e])));
    expect(w.journal()).toEqual({
      repartition: 3,
      targets: {
        '0': { initialEnd: '5', producerId: '9', producerEpoch: 0, sequenceStart: '100' },
        '1': { initialEnd: '0', producerId: '9', producerEpoch: 0, sequenceStart: '101' },
        '2': { initialEnd: '0', producerId: '9', producerEpoch: 0, sequenceStart: '102' },
      },
    });
  });

  it('resumed: leaves out the first records of each target partition that it already holds, writes the rest, maps both', async () => {
    const share = (p: number) => Array.from({ length: 40 }, (_, i) => i).filter((i) => placeOf(i) === p);
    const already = [2n, 0n, BigInt(share(2).length)];
    const ends = [already[0]!, 0n, already[2]!];
    const producer = new StandIn([...ends]);
    const w = new FanoutWriter(producer as unknown as KafkaProducer, target, lanes([0n, 0n, 0n], already), () => {});
    expect(w.resume).toEqual({ records: Number(already[0]! + already[2]!) });
    // each lane written on as the interrupted run's producer, from its sequence after what is there
    expect(producer.adopted).toEqual([
      [0, 102],
      [1, 101],
      [2, 102 + share(2).length],
    ]);
    expect(await restore(w, 40)).toBe(40 - Number(already[0]! + already[2]!));
    const runs = await w.close();
    expect(producer.stored.get(0)).toEqual(share(0).slice(2));
    expect(producer.stored.get(1)).toEqual(share(1));
    expect(producer.stored.has(2)).toBe(false);
    const mapped = runs.reduce((n, r) => n + Number(r.sourceEnd - r.sourceStart + 1n), 0);
    expect(mapped).toBe(40);
  });

  it('a target holding more of this stream than the plan: an integrity error at close', async () => {
    const producer = new StandIn([0n, 0n, 50n]);
    const w = new FanoutWriter(producer as unknown as KafkaProducer, target, lanes([0n, 0n, 0n], [0n, 0n, 50n]), () => {});
    await restore(w, 40);
    await expect(w.close()).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/^b\/2: holds \d+ more records than this backup plans/) });
  });
});
