/**
 * mqbak's own Fetch reader (src/brokers/kafka/fetcher.ts) reading a topic of more partitions
 * than its window, against a mock cluster of this file's own: every record of every partition in
 * offset order, each partition told done once, after its last record, and no more partitions
 * begun and not done at once than the window allows; also when a Fetch's connection fails
 * mid-read (the partitions not yet admitted wait for the next round).
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KafkaAdmin } from '../../../../src/brokers/kafka/admin.js';
import { KafkaFetcher, type FetchRange } from '../../../../src/brokers/kafka/fetcher.js';
import { silentProgress } from '../../../../src/common/progress.js';
import { startKafkaMock, type KafkaMock } from '../../../helpers/kafka-mock.js';

const PARTITIONS = 12;
/** records in partition p: none in every fourth, up to 3 sends of 40 in the others */
const countOf = (p: number) => (p % 4 === 0 ? 0 : (p % 4) * 40 + p);

let mock: KafkaMock;
let admin: KafkaAdmin;
let fetcher: KafkaFetcher;

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1, topics: [`w:${PARTITIONS}`] });
  const kafka = new Kafka({ brokers: mock.brokers, clientId: 'fetcher-test', logLevel: logLevel.NOTHING });
  const producer = kafka.producer();
  await producer.connect();
  for (let p = 0; p < PARTITIONS; p++) {
    // several sends: several batches per partition
    for (let s = 0; s < countOf(p); s += 40) {
      const n = Math.min(40, countOf(p) - s);
      await producer.send({ topic: 'w', acks: -1, messages: Array.from({ length: n }, (_, j) => ({ partition: p, value: `p${p}-${s + j}` })) });
    }
  }
  await producer.disconnect();
  admin = await KafkaAdmin.connect({ brokers: mock.brokers, clientId: 'fetcher-test', progress: silentProgress, debug: false });
  const f = await admin.fetcher();
  if (!(f instanceof KafkaFetcher)) throw new Error(`no Fetch reader: ${f.reason}`);
  fetcher = f;
}, 120_000);

afterAll(async () => {
  await admin?.disconnect();
  await mock?.stop();
});

async function readWindowed(window: number, onColumns?: (calls: number) => Promise<void>) {
  const ranges: FetchRange[] = Array.from({ length: PARTITIONS }, (_, p) => ({ partition: p, from: 0n, to: BigInt(countOf(p)) }));
  const values = new Map<number, string[]>();
  const done: number[] = [];
  const begun = new Set<number>();
  let mostOpen = 0;
  let calls = 0;
  const left = await fetcher.read(
    'w',
    ranges,
    'read_committed',
    {
      columns: async (p, cols) => {
        expect(done).not.toContain(p);
        begun.add(p);
        mostOpen = Math.max(mostOpen, begun.size - done.length);
        const got = values.get(p) ?? [];
        for (let i = 0; i < cols.count; i++) {
          // offsets exact: the record at offset k is the k-th one sent to the partition
          expect(BigInt(cols.position[i]!)).toBe(BigInt(got.length));
          got.push(Buffer.from(cols.bytes.subarray(cols.valueStart[i]!, cols.valueStart[i]! + cols.valueLength[i]!)).toString());
        }
        values.set(p, got);
        await onColumns?.(++calls);
      },
      gap: () => {
        throw new Error('no gap expected');
      },
      lowWatermark: async () => 0n,
      done: async (p) => {
        // told once, after the last record of the partition
        expect(done).not.toContain(p);
        expect(values.get(p)?.length).toBe(countOf(p));
        done.push(p);
      },
    },
    new AbortController().signal,
    window,
  );
  return { left, values, done, mostOpen };
}

describe("Kafka Fetch reader's window of partitions", () => {
  const nonEmpty = Array.from({ length: PARTITIONS }, (_, p) => p).filter((p) => countOf(p) > 0);

  const expectAllRead = (r: Awaited<ReturnType<typeof readWindowed>>) => {
    expect(r.left).toEqual([]);
    expect([...r.done].sort((a, b) => a - b)).toEqual(nonEmpty);
    for (const p of nonEmpty) expect(r.values.get(p)).toEqual(Array.from({ length: countOf(p) }, (_, i) => `p${p}-${i}`));
  };

  it('reads every record of every partition, at most `window` partitions begun and not done at once', async () => {
    const r = await readWindowed(2);
    expectAllRead(r);
    expect(r.mostOpen).toBeLessThanOrEqual(2);
    // a window of all partitions reads them together: many begun at once
    const all = await readWindowed(PARTITIONS);
    expectAllRead(all);
    expect(all.mostOpen).toBeGreaterThan(2);
  });

  it('reads every record when a Fetch connection fails mid-read (partitions not admitted yet read in the next round)', async () => {
    const r = await readWindowed(3, async (calls) => {
      if (calls === 2) await mock.send('errors Fetch 2 TRANSPORT');
    });
    expectAllRead(r);
    expect(r.mostOpen).toBeLessThanOrEqual(3);
    expect(await mock.send('pending_errors 1 Fetch')).toBe('0');
  });
});
