/**
 * The range reader against the real nats-server: it ends exactly at the sequence noted at the
 * start while a publisher keeps writing, and every sequence of the range is a record or a gap
 * (messages deleted one by one, purged, or dropped by the stream's limits).
 */
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../src/common/errors.js';
import { describeStream, readStream, type NatsConnection, type ReadBatch, type SeqRange } from '../../src/brokers/nats/index.js';
import { createStream, natsConnect, publishMany, useNatsConnection } from '../helpers/nats.js';

let conn: NatsConnection;
const streams: string[] = [];

useNatsConnection((c) => (conn = c), streams);

async function newStream(prefix: string, config: Record<string, unknown> = {}): Promise<string> {
  const s = await createStream(conn, prefix, config);
  streams.push(s);
  return s;
}

async function read(stream: string, from: number, to: number, batchSize?: number): Promise<{ seqs: number[]; gaps: SeqRange[]; batches: ReadBatch[] }> {
  const batches: ReadBatch[] = [];
  for await (const b of readStream(conn, stream, { from, to, batchSize, idleMs: 1000 })) batches.push(b);
  const seqs = batches.flatMap((b) => b.records.map((r) => r.seq));
  const gaps = batches.flatMap((b) => b.gaps);
  // every sequence of the range exactly once, in order, and `through` never goes back
  const covered = [...seqs, ...gaps.flatMap((g) => Array.from({ length: g.to - g.from + 1 }, (_, i) => g.from + i))].sort((a, b) => a - b);
  expect(covered).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i));
  batches.forEach((b, i) => i > 0 && expect(b.through).toBeGreaterThan(batches[i - 1]!.through));
  if (batches.length) expect(batches.at(-1)!.through).toBe(to);
  return { seqs, gaps, batches };
}

describe('NATS stream reader', () => {
  it('stops exactly at the sequence noted at the start while a publisher keeps writing', async () => {
    const s = await newStream('nats-cut');
    await publishMany(conn, `${s}.a`, 3000);
    // a second connection keeps publishing during the whole read
    const other = await natsConnect();
    let stop = false;
    let written = 0;
    const writer = (async () => {
      while (!stop) {
        await publishMany(other, `${s}.b`, 50, (i) => `late${i}`);
        written += 50;
      }
    })();
    let cut: number;
    let result: Awaited<ReturnType<typeof read>>;
    let writtenDuringRead: number;
    try {
      while (written < 100) await new Promise((r) => setTimeout(r, 10));
      cut = (await describeStream(conn, s)).lastSeq;
      const before = written;
      result = await read(s, 1, cut, 100);
      writtenDuringRead = written - before;
    } finally {
      stop = true;
      await writer;
      await other.close();
    }
    const { seqs, gaps, batches } = result;
    expect(seqs).toEqual(Array.from({ length: cut }, (_, i) => i + 1));
    expect(gaps).toEqual([]);
    expect(batches.length).toBeGreaterThan(10);
    // the publisher did write while the read ran, past the cut
    expect((await describeStream(conn, s)).lastSeq).toBeGreaterThan(cut);
    expect(writtenDuringRead).toBeGreaterThan(0);
  });

  it('reports deleted and purged messages as gaps, also at both ends of the range', async () => {
    const s = await newStream('nats-gaps');
    await publishMany(conn, `${s}.a`, 20);
    await conn.jsm.streams.purge(s, { seq: 4 }); // 1..3
    for (const seq of [5, 6, 12, 20]) await conn.jsm.streams.deleteMessage(s, seq, false);
    const { seqs, gaps } = await read(s, 1, 20, 5);
    expect(gaps).toEqual([
      { from: 1, to: 3 },
      { from: 5, to: 6 },
      { from: 12, to: 12 },
      { from: 20, to: 20 },
    ]);
    expect(seqs).toEqual([4, 7, 8, 9, 10, 11, 13, 14, 15, 16, 17, 18, 19]);
    // an incremental range in the middle
    expect((await read(s, 6, 13)).gaps).toEqual([
      { from: 6, to: 6 },
      { from: 12, to: 12 },
    ]);
  });

  it('reports what the limits dropped, and a fully purged stream as one gap', async () => {
    const s = await newStream('nats-limits', { max_msgs: 10 });
    await publishMany(conn, `${s}.a`, 25);
    const { seqs, gaps } = await read(s, 1, 25);
    expect(gaps).toEqual([{ from: 1, to: 15 }]);
    expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => 16 + i));
    await conn.jsm.streams.purge(s);
    const after = await read(s, 1, 25);
    expect(after.seqs).toEqual([]);
    expect(after.gaps).toEqual([{ from: 1, to: 25 }]);
  });

  it('leaves nothing behind: no consumer remains after a read, also when the caller stops early', async () => {
    const s = await newStream('nats-clean');
    await publishMany(conn, `${s}.a`, 500);
    for await (const b of readStream(conn, s, { from: 1, to: 500, batchSize: 50 })) {
      expect(b.records.length).toBeGreaterThan(0);
      break;
    }
    await read(s, 1, 500);
    expect((await describeStream(conn, s)).consumerCount).toBe(0);
  });

  it('stops with interrupted when the signal fires during a read, and leaves no consumer', async () => {
    const s = await newStream('nats-abort');
    await publishMany(conn, `${s}.a`, 2000);
    const ac = new AbortController();
    let seen = 0;
    const e = await (async () => {
      for await (const b of readStream(conn, s, { from: 1, to: 2000, batchSize: 100, signal: ac.signal })) {
        seen += b.records.length;
        ac.abort();
      }
    })().then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('interrupted');
    expect(seen).toBeGreaterThan(0);
    expect(seen).toBeLessThan(2000);
    expect((await describeStream(conn, s)).consumerCount).toBe(0);
  });

  it('goes on with a new consumer when its consumer is deleted during the read', async () => {
    const s = await newStream('nats-consumer-gone');
    await publishMany(conn, `${s}.a`, 3000);
    const seqs: number[] = [];
    let deleted = 0;
    for await (const b of readStream(conn, s, { from: 1, to: 3000, batchSize: 100, pullSize: 100, heartbeatMs: 1000 })) {
      seqs.push(...b.records.map((r) => r.seq));
      expect(b.gaps).toEqual([]);
      if (deleted === 0) {
        for await (const c of await conn.jsm.consumers.list(s)) {
          await conn.jsm.consumers.delete(s, c.name);
          deleted++;
        }
      }
    }
    expect(deleted).toBe(1);
    expect(seqs).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    await expect.poll(async () => (await describeStream(conn, s)).consumerCount).toBe(0);
  }, 30_000);

  it('fails as unreachable, not hangs, when the connection closes during the read', async () => {
    const s = await newStream('nats-conn-closed');
    await publishMany(conn, `${s}.a`, 3000);
    const other = await natsConnect();
    let seen = 0;
    const e = await (async () => {
      for await (const b of readStream(other, s, { from: 1, to: 3000, batchSize: 100, pullSize: 100 })) {
        seen += b.records.length;
        if (seen === 100) await other.close();
      }
    })().then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('unreachable');
    expect((e as MqbakError).message).toMatch(/connection closed/);
    expect(seen).toBeLessThan(3000);
  }, 30_000);

  it('ends with a gap when the rest of the range is deleted while it reads', async () => {
    const s = await newStream('nats-deleted-during');
    await publishMany(conn, `${s}.a`, 40);
    const seqs: number[] = [];
    const gaps: SeqRange[] = [];
    // pulls of 3 and batches of 3: the reader is a few pulls ahead at most, far from 31..40
    for await (const b of readStream(conn, s, { from: 1, to: 40, batchSize: 3, pullSize: 3, idleMs: 1000 })) {
      seqs.push(...b.records.map((r) => r.seq));
      gaps.push(...b.gaps);
      if (seqs.length === 3) for (let seq = 31; seq <= 40; seq++) await conn.jsm.streams.deleteMessage(s, seq, false);
    }
    expect(seqs).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(gaps).toEqual([{ from: 31, to: 40 }]);
  });
});
