/**
 * The logic of one partition's restore writer (src/brokers/kafka/stream-writer.ts) with a stand-in
 * for the producer that records what it is asked to send and acknowledges when the test says so:
 * how records are cut into requests, one request in flight, the next one encoded meanwhile, the
 * base-offset check, resume by counting, offset runs. The real producer and broker are in
 * test/integration/brokers/kafka/sink.test.ts and the contract suites.
 */
import { describe, expect, it } from 'vitest';
import type { PlannedTarget } from '../../../../src/brokers/adapter.js';
import type { KafkaProducer } from '../../../../src/brokers/kafka/producer.js';
import { KafkaStreamWriter } from '../../../../src/brokers/kafka/stream-writer.js';
import { MqbakError } from '../../../../src/common/errors.js';
import { columnsOf, sliceCount, type ArchiveRecord, type RecordSlice } from '../../../../src/common/record.js';

const target: PlannedTarget = { name: 'kafka/a/0', source: { topic: 'a', partition: 0 }, target: { topic: 'b', partition: 0 }, records: 0, from: 0n, to: 0n };
const signal = new AbortController().signal;

/** Records at the given source positions, each with a value of `size` bytes. */
function block(positions: number[], size = 10): RecordSlice[] {
  const recs: ArchiveRecord[] = positions.map((p) => ({ position: BigInt(p), timestamp: 0, timestampType: null, key: null, value: new Uint8Array(size), headers: [], attributes: null }));
  return [{ cols: columnsOf(recs), from: 0, to: recs.length }];
}
const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

/** Records every prepared batch; transmit waits until ack() is called for it. */
class StandIn {
  readonly prepared: number[] = [];
  readonly transmitted: number[] = [];
  private waiting: Array<(base: bigint) => void> = [];
  private end: bigint;
  /** base offset the broker answers; `wrong` makes the next answer off by one */
  wrong = false;
  constructor(end = 0n) {
    this.end = end;
  }
  prepare(_t: string, _p: number, slices: readonly RecordSlice[]) {
    this.prepared.push(sliceCount(slices));
    return { count: sliceCount(slices) };
  }
  transmit(b: { count: number }): Promise<bigint> {
    this.transmitted.push(b.count);
    return new Promise((resolve) => {
      this.waiting.push(() => {
        const base = this.end + (this.wrong ? 1n : 0n);
        this.end += BigInt(b.count);
        resolve(base);
      });
    });
  }
  /** Acknowledges every request on the wire, as they come, until nothing is left. */
  async ackAll(): Promise<void> {
    for (let rounds = 0; rounds < 100; rounds++) {
      await new Promise((r) => setTimeout(r, 1));
      const w = this.waiting.shift();
      if (w) w(0n);
    }
  }
  get inFlight(): number {
    return this.waiting.length;
  }
}

const writer = (p: StandIn, initialEnd = 0n, currentEnd = initialEnd) => new KafkaStreamWriter(p as unknown as KafkaProducer, target, initialEnd, currentEnd);

describe('kafka stream writer', () => {
  it('cuts at 10,000 records and at about 1 MB, holds the end for the next write, one request in flight', async () => {
    const p = new StandIn();
    const w = writer(p);
    const a = w.write(block(range(0, 25_000)), signal);
    const b = w.write(block(range(25_000, 3000), 1000), signal);
    await new Promise((r) => setTimeout(r, 5));
    // the first request is on the wire and the second already encoded; nothing else goes out yet
    expect(p.transmitted).toEqual([10_000]);
    expect(p.prepared).toEqual([10_000, 10_000]);
    expect(p.inFlight).toBe(1);
    const end = w.write([], signal);
    await p.ackAll();
    const acks = await Promise.all([a, b, end]);
    // 5,000 left of the first write (42 bytes each by the estimate) + records of 1,032 bytes
    // until 1,000,000 would be passed: 765 of them
    expect(p.transmitted.reduce((n, x) => n + x, 0)).toBe(28_000);
    expect(p.transmitted.slice(0, 3)).toEqual([10_000, 10_000, 5765]);
    expect(acks.reduce((n, x) => n + x.written, 0)).toBe(28_000);
    expect(acks[0]!.written).toBe(20_000); // its last 5,000 went with the next write's records
    const runs = await w.close();
    expect(runs.map((r) => [r.sourceStart, r.sourceEnd, r.targetStart])).toEqual([[0n, 27_999n, 0n]]);
  });

  it('records held back wait for one write only: what the next write does not fill goes out with it (releasesEarlierWrites)', async () => {
    const p = new StandIn();
    const w = writer(p);
    expect(w.releasesEarlierWrites).toBe(true);
    const a = w.write(block(range(0, 12_000)), signal);
    // 2,000 held; 100 more do not fill a request: all 2,100 go, none waits for a third write
    const b = w.write(block(range(12_000, 100)), signal);
    const c = w.write(block(range(12_100, 50)), signal);
    await p.ackAll();
    const acks = await Promise.all([a, b, c]);
    expect(acks.map((x) => x.written)).toEqual([10_000, 2100, 0]);
    expect(p.transmitted).toEqual([10_000, 2100]);
    // the third write's 50, held in their turn, go with the end
    const end = w.write([], signal);
    await p.ackAll();
    expect((await end).written).toBe(50);
    expect(p.transmitted).toEqual([10_000, 2100, 50]);
  });

  it('a batch stored at another offset than expected stops the partition (partial)', async () => {
    const p = new StandIn(5n);
    const w = writer(p, 5n);
    p.wrong = true;
    const a = w.write(block(range(0, 10)), signal);
    const end = w.write([], signal);
    end.catch(() => {}); // looked at below, after the acknowledgements
    await p.ackAll();
    await expect(end).rejects.toMatchObject({ code: 'partial', message: 'b/0: the broker stored the batch at 6, expected 5: another producer writes to this partition' });
    expect((await a).written).toBe(0);
  });

  it('resumes by counting: what the target gained since the journal is skipped and mapped, not sent', async () => {
    const p = new StandIn(107n);
    // the target ended at 100 when this restore began; 7 records have landed since
    const w = writer(p, 100n, 107n);
    expect(w.resume).toEqual({ records: 7 });
    expect(w.journal()).toEqual({ initialEnd: '100' });
    const a = w.write(block([0, 1, 2, 3, 4]), signal);
    const b = w.write(block([10, 11, 12, 13]), signal);
    const end = w.write([], signal);
    await p.ackAll();
    expect((await Promise.all([a, b, end])).map((x) => x.written)).toEqual([0, 0, 2]);
    expect(p.transmitted).toEqual([2]);
    const runs = await w.close();
    expect(runs.map((r) => [r.sourceStart, r.sourceEnd, r.targetStart])).toEqual([
      [0n, 4n, 100n],
      [10n, 13n, 105n],
    ]);
  });

  it("journals the batch producer's identity, and a rerun writes on as the journaled producer from the counted record's sequence", async () => {
    const adopted: unknown[] = [];
    const withId = (end: bigint) =>
      Object.assign(new StandIn(end), {
        identity: () => ({ producerId: 77n, producerEpoch: 3 }),
        adopt: (...a: unknown[]) => adopted.push(a),
      });
    // a new restore: sequence 0 is the first record it sends, after the 4 already there
    const fresh = new KafkaStreamWriter(withId(4n) as unknown as KafkaProducer, target, 0n, 4n);
    expect(fresh.journal()).toEqual({ initialEnd: '0', producerId: '77', producerEpoch: 3, sequenceStart: '4' });
    expect(adopted).toEqual([]);
    // a rerun of a run that wrote as producer 12 epoch 1 from record 2: 9 records are counted, so
    // record 9 goes with sequence 7, as that run gave it
    const saved = { producerId: 12n, producerEpoch: 1, sequenceStart: 2n };
    const again = new KafkaStreamWriter(withId(9n) as unknown as KafkaProducer, target, 0n, 9n, saved);
    expect(adopted).toEqual([['b', 0, 12n, 1, 7]]);
    expect(again.journal()).toEqual({ initialEnd: '0', producerId: '12', producerEpoch: 1, sequenceStart: '2' });
  });

  it('more on the target than the plan holds, or less than the journal says, is an integrity error', async () => {
    const w = writer(new StandIn(), 0n, 9n);
    await w.write(block([0, 1, 2]), signal);
    await expect(w.close()).rejects.toMatchObject({ code: 'integrity', message: 'b/0: holds 6 more records than this backup plans (not a resume of the same restore?)' });
    let e: unknown;
    try {
      writer(new StandIn(), 10n, 4n);
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).message).toBe('target b/0 ends at 4, before 10 where this restore started (records deleted?)');
  });
});
