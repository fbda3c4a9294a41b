import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { columnsOf, type ArchiveRecord } from '../../../src/common/record.js';
import type { SourceDescription } from '../../../src/archive/manifest.js';
import { LocalStore } from '../../../src/stores/local.js';
import { openBackupWriter } from '../../../src/core/backup-writer.js';
import { readStream } from '../../../src/core/backup-reader.js';
import { budgetShare, MIN_STREAM_SHARE } from '../../../src/core/backup-stream.js';

describe('budgetShare', () => {
  it('splits the memory budget equally over the open streams', () => {
    expect(budgetShare(64 * 1024 * 1024, 4)).toBe(16 * 1024 * 1024);
    expect(budgetShare(64 * 1024 * 1024, 2000)).toBe(Math.floor((64 * 1024 * 1024) / 2000));
  });

  it('never goes below MIN_STREAM_SHARE, and counts no stream as one', () => {
    expect(budgetShare(64 * 1024 * 1024, 1_000_000)).toBe(MIN_STREAM_SHARE);
    expect(budgetShare(1000, 0)).toBe(MIN_STREAM_SHARE);
    expect(budgetShare(1024 * 1024, 0)).toBe(1024 * 1024);
  });
});

const source: SourceDescription = { broker: 'kafka', url: 'kafka://localhost:9092', chainKey: 'kafka:test:orders', options: {} };
const record = (i: number): ArchiveRecord => ({
  position: BigInt(i),
  timestamp: 1_700_000_000_000 + i,
  timestampType: 'create',
  key: Buffer.from(`k-${i}`),
  value: Buffer.from(`value ${i} `.repeat(20)),
  headers: [],
  attributes: null,
});

describe('BackupStream.end', () => {
  let dir: string;
  let store: LocalStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-end-'));
    store = new LocalStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const stored = async (id: string) => {
    const keys: string[] = [];
    for await (const o of store.list(`segments/${id}/`)) keys.push(o.key);
    return keys.sort();
  };

  it('stores what the stream holds before close, refuses records after it, and the close keeps everything', async () => {
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source, toolVersion: 't' });
    const internals = w as unknown as { held: number; openStreams: number };
    const a = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 0n });
    const b = w.openStream({ name: 'kafka/orders/1', address: { topic: 'orders', partition: 1 }, from: 0n });
    const recs = Array.from({ length: 50 }, (_, i) => record(i));
    await a.appendMany(recs);
    await b.appendMany(recs.slice(0, 10));
    expect(internals.openStreams).toBe(2);
    await a.end();
    // ended: out of the budget's sharing, its segment on its way to the store (durable by close)
    expect(internals.openStreams).toBe(1);
    await a.end(); // twice: nothing more
    await expect(a.append(record(50))).rejects.toThrow(/records after its end/);
    a.addGap(60n, 70n, 'retention');
    a.setExtra('note', 1);
    const ea = await a.close(70n);
    expect(await stored(w.id)).toEqual([`segments/${w.id}/0000/0000000000.seg`]);
    expect(ea).toMatchObject({ records: 50, to: '70', gaps: [{ from: '60', to: '70', reason: 'retention' }], extra: { note: 1 } });
    expect(ea.segments).toHaveLength(1);
    const eb = await b.close(10n);
    expect(internals.openStreams).toBe(0);
    const { manifest } = await w.commit();
    expect(internals.held).toBe(0);
    const back: bigint[] = [];
    for await (const r of readStream(store, manifest.streams[0]!)) back.push(r.position);
    expect(back).toEqual(recs.map((r) => r.position));
    expect(eb.records).toBe(10);
  });

  it('an ended stream with nothing buffered stores nothing more; a stream ended empty stores nothing', async () => {
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source, toolVersion: 't' });
    const a = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 0n });
    const e = w.openStream({ name: 'kafka/orders/1', address: { topic: 'orders', partition: 1 }, from: 0n });
    await a.appendMany([record(0), record(1)]);
    await a.flush();
    await a.end();
    await e.end();
    await a.close(2n);
    const ee = await e.close(0n);
    expect(ee).toMatchObject({ records: 0, segments: [] });
    expect(await stored(w.id)).toEqual([`segments/${w.id}/0000/0000000000.seg`]);
    await w.commit();
  });

  it('many streams ended one after the other: every segment is stored and the writer holds nothing after', async () => {
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source, toolVersion: 't' });
    const streams = Array.from({ length: 40 }, (_, p) => w.openStream({ name: `kafka/orders/${p}`, address: { topic: 'orders', partition: p }, from: 0n }));
    for (const s of streams) {
      await s.appendMany([record(0), record(1), record(2)]);
      await s.end();
    }
    for (const s of streams) await s.close(3n);
    const { manifest } = await w.commit();
    expect(manifest.streams.every((s) => s.segments.length === 1 && s.records === 3)).toBe(true);
    expect(await stored(w.id)).toHaveLength(40);
    expect((w as unknown as { held: number }).held).toBe(0);
  });
});

describe('BackupStream.appendColumns', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-columns-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('stores the segments appendMany stores, cut at the same records, blocks and segments cut inside a call', async () => {
    const store = new LocalStore(dir);
    // small blocks and segments: every call cuts several blocks, and segments end inside calls
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source, toolVersion: 't', blockSize: 4096, segmentSize: 20_000 });
    const recs = Array.from({ length: 700 }, (_, i) => ({ ...record(i), value: Buffer.from(`value ${i} `.repeat(1 + (i % 40))) }));
    const many = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 0n });
    const cols = w.openStream({ name: 'kafka/orders/1', address: { topic: 'orders', partition: 1 }, from: 0n });
    for (let i = 0; i < recs.length; i += 233) {
      await many.appendMany(recs.slice(i, i + 233));
      await cols.appendColumns(columnsOf(recs.slice(i, i + 233)));
    }
    const a = await many.close(700n);
    const b = await cols.close(700n);
    await w.commit();
    const shape = (e: typeof a) => e.segments.map((s) => [s.bytes, s.sha256, s.records, s.firstPosition, s.lastPosition, s.firstTimestamp, s.lastTimestamp]);
    expect(a.segments.length).toBeGreaterThan(5);
    expect(shape(b)).toEqual(shape(a));
    expect(b.records).toBe(700);
    const back: ArchiveRecord[] = [];
    for await (const r of readStream(store, b)) back.push(r);
    expect(back.map((r) => r.position)).toEqual(recs.map((r) => r.position));
  });
});
