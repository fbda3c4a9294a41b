/**
 * Draining a work-queue stream against the real nats-server: nothing leaves the stream until the
 * caller settles, settling removes exactly what it names, and what a run read but did not settle
 * is there for the next run.
 */
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../src/common/errors.js';
import { describeStream, WorkQueueReader, type NatsConnection } from '../../src/brokers/nats/index.js';
import { createStream, useNatsConnection, publishMany } from '../helpers/nats.js';

let conn: NatsConnection;
const streams: string[] = [];

useNatsConnection((c) => (conn = c), streams);

async function readAll(r: WorkQueueReader, through?: number): Promise<number[]> {
  const seqs: number[] = [];
  for await (const b of r.read({ through })) seqs.push(...b.records.map((x) => x.seq));
  return seqs;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('NATS work-queue drain', () => {
  it('holds acknowledgements until settled, and leaves what was not settled for the next run', async () => {
    const s = await createStream(conn, 'nats-wq', { retention: 'workqueue' });
    streams.push(s);
    await publishMany(conn, `${s}.jobs`, 30);

    const first = await WorkQueueReader.open(conn, s, { batchSize: 7 });
    expect(await readAll(first)).toEqual(range(1, 30));
    expect(first.heldCount).toBe(30);
    // read but not settled: all still stored
    expect((await describeStream(conn, s)).messages).toBe(30);

    expect(await first.settleThrough(10)).toBe(10);
    let st = await describeStream(conn, s);
    expect(st.messages).toBe(20);
    expect(st.firstSeq).toBe(11);
    expect(first.heldCount).toBe(20);

    // the run ends (or dies) without settling the rest: they stay in the stream
    await first.close();
    expect((await describeStream(conn, s)).messages).toBe(20);

    // the next run gets them again, and may stop at a given sequence
    const second = await WorkQueueReader.open(conn, s);
    expect(await readAll(second, 25)).toEqual(range(11, 25));
    expect(await second.settleThrough(25)).toBe(15);
    st = await describeStream(conn, s);
    expect(st.messages).toBe(5);
    expect(st.firstSeq).toBe(26);
    expect(await readAll(second)).toEqual(range(26, 30));
    await second.settleThrough(30);
    expect((await describeStream(conn, s)).messages).toBe(0);
    await second.close();
    expect((await describeStream(conn, s)).consumerCount).toBe(0);
  });

  it('takes over the consumer a killed run left behind', async () => {
    const s = await createStream(conn, 'nats-wq-left', { retention: 'workqueue' });
    streams.push(s);
    await publishMany(conn, `${s}.jobs`, 5);
    const killed = await WorkQueueReader.open(conn, s);
    expect(await readAll(killed)).toEqual(range(1, 5));
    // no close(): as after SIGKILL, its durable consumer holds the deliveries
    const next = await WorkQueueReader.open(conn, s);
    expect(await readAll(next)).toEqual(range(1, 5));
    await next.settleThrough(5);
    expect((await describeStream(conn, s)).messages).toBe(0);
    await next.close();
  });

  it('refuses a stream that is not a work queue', async () => {
    const s = await createStream(conn, 'nats-wq-limits');
    streams.push(s);
    const e = await WorkQueueReader.open(conn, s).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('usage');
    expect((e as MqbakError).message).toMatch(/limits retention/);
  });
});
