/**
 * mqbak's own decoding of fetched Kafka record batches (src/brokers/kafka/record-batches.ts)
 * into RecordColumns, and the archive encoding written from those columns: batches are made by
 * mqbak's batch encoder (checked against kafkajs' decoder in kafka-batch-encoding.test.ts) and
 * by hand for what it does not make (gzip, transactions, control batches, older formats).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeRecordBatch } from '../../../../src/brokers/kafka/batch-producer.js';
import { decodeRecordBatches, nextFetchOffset, UnsupportedCompression, type DecodeOptions } from '../../../../src/brokers/kafka/record-batches.js';
import { decodeFetchV4 } from '../../../../src/brokers/kafka/fetcher.js';
import { columnRecord, type ArchiveRecord, type RecordColumns } from '../../../../src/common/record.js';
import { encodeRecord } from '../../../../src/archive/record-encoder.js';
import { loadZstdDecompressor, setZstdImplementation } from '../../../../src/archive/codec.js';
import { openBackupWriter } from '../../../../src/core/backup-writer.js';
import { LocalStore } from '../../../../src/stores/local.js';

const te = new TextEncoder();
const NO_ID = { producerId: -1n, producerEpoch: -1, baseSequence: -1 };

function rec(position: number, over: Partial<ArchiveRecord> = {}): ArchiveRecord {
  return {
    position: BigInt(position),
    timestamp: 1_700_000_000_000 + position,
    timestampType: 'create',
    key: te.encode(`k${position}`),
    value: te.encode(`value ${position} `.repeat(position % 7)),
    headers: [
      { name: 'content-type', value: te.encode('application/json') },
      { name: 'trace', value: position % 3 === 0 ? null : te.encode(`t${position}`) },
    ],
    attributes: null,
    ...over,
  };
}

/** A batch of `records` at base offset `base` (offsets base, base+1, ...), with optional attributes. */
function batch(base: number, records: ArchiveRecord[], o: { attributes?: number; producerId?: bigint; gzip?: boolean; zstd?: (raw: Buffer) => Buffer; lastOffsetDelta?: number; magic?: number } = {}): Buffer {
  let b = encodeRecordBatch(records, o.producerId === undefined ? NO_ID : { producerId: o.producerId, producerEpoch: 0, baseSequence: 0 });
  if (o.gzip || o.zstd) {
    const body = o.gzip ? gzipSync(b.subarray(61)) : o.zstd!(b.subarray(61));
    b = Buffer.concat([b.subarray(0, 61), body]);
    b.writeInt32BE(b.length - 12, 8);
  }
  b.writeBigInt64BE(BigInt(base), 0);
  b.writeInt16BE((o.attributes ?? 0) | (o.gzip ? 1 : 0) | (o.zstd ? 4 : 0), 21);
  if (o.lastOffsetDelta !== undefined) b.writeInt32BE(o.lastOffsetDelta, 23);
  if (o.magic !== undefined) b[16] = o.magic;
  return b;
}

/** A control batch (a transaction marker) of a producer: abort or commit. */
function marker(offset: number, producerId: bigint, abort: boolean): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(abort ? 0 : 1, 2);
  return batch(offset, [{ position: BigInt(offset), timestamp: 1, timestampType: 'create', key, value: Buffer.alloc(6), headers: [], attributes: null }], { attributes: 0x30, producerId });
}

const all: DecodeOptions = { from: 0n, to: 1n << 40n, readCommitted: false, aborted: [] };

function decodeAll(bytes: Buffer, o: Partial<DecodeOptions> = {}) {
  const d = decodeRecordBatches(bytes, 0, bytes.length, { ...all, ...o });
  const records = d.columns.flatMap((c) => Array.from({ length: c.count }, (_, i) => columnRecord(c, i)));
  return { ...d, records };
}

const plain = (r: ArchiveRecord) => ({ ...r, key: r.key && Buffer.from(r.key), value: r.value && Buffer.from(r.value), headers: r.headers.map((h) => ({ name: h.name, value: h.value && Buffer.from(h.value) })) });

describe('decoding fetched record batches', () => {
  it('gives back every field of the records encoded, across batches, and says where to fetch next', () => {
    const a = [0, 1, 2].map((i) => rec(i));
    const b = [3, 4, 5, 6].map((i) => rec(i, i === 4 ? { key: null, value: null, headers: [] } : i === 5 ? { value: new Uint8Array(0), key: new Uint8Array(0) } : {}));
    const bytes = Buffer.concat([batch(0, a), batch(3, b)]);
    const d = decodeAll(bytes);
    expect(d.records.map(plain)).toEqual([...a, ...b].map(plain));
    expect(d.next).toBe(7n);
    expect(d.unsupported).toBeNull();
    // one set of columns over the answer's own bytes: no copies
    expect(d.columns).toHaveLength(1);
    expect(d.columns[0]!.bytes).toBe(bytes);
    expect(nextFetchOffset(bytes, 0, bytes.length, 0n)).toBe(7n);
  });

  it('keeps repeated and interleaved header names in their order', () => {
    const r = rec(0, { headers: ['a', 'b', 'a', 'c', 'a'].map((name, i) => ({ name, value: te.encode(String(i)) })) });
    expect(decodeAll(batch(0, [r])).records[0]!.headers.map((h) => `${h.name}=${Buffer.from(h.value!).toString()}`)).toEqual(['a=0', 'b=1', 'a=2', 'c=3', 'a=4']);
  });

  it('skips records before `from` and stops before `to`; a batch cut off at the end is left for the next fetch', () => {
    const bytes = Buffer.concat([batch(10, [10, 11, 12, 13].map((i) => rec(i))), batch(14, [14, 15].map((i) => rec(i)))]);
    const d = decodeAll(bytes, { from: 12n, to: 15n });
    expect(d.records.map((r) => r.position)).toEqual([12n, 13n, 14n]);
    const cut = bytes.subarray(0, bytes.length - 5);
    const c = decodeAll(cut, { from: 12n });
    expect(c.records.map((r) => r.position)).toEqual([12n, 13n]);
    expect(c.next).toBe(14n);
    expect(nextFetchOffset(cut, 0, cut.length, 12n)).toBe(14n);
    expect(decodeAll(cut.subarray(0, 40), { from: 12n }).next).toBe(12n);
  });

  it('offsets may jump (compaction): no record is invented, the next fetch starts past the batch', () => {
    // a batch whose records 21 and 22 were compacted away: offsets 20, 23; lastOffsetDelta 4
    const small = (i: number) => rec(i, { value: te.encode('v'), headers: [] });
    const b = batch(20, [small(20), small(21)], { lastOffsetDelta: 4 });
    // the second record's offset delta: rewrite it from 1 to 3 (zigzag 6), it sits after the first record
    const len0 = b[61]! >> 1; // one-byte varint: the record is short
    expect(b[61]).toBeLessThan(128);
    const r1 = 61 + 1 + len0; // second record: length varint, attributes, timestamp delta, offset delta
    expect(b[r1 + 3]).toBe(2); // zigzag(1)
    b[r1 + 3] = 6;
    const d = decodeAll(b);
    expect(d.records.map((r) => r.position)).toEqual([20n, 23n]);
    expect(d.next).toBe(25n);
  });

  it('a batch whose last records were compacted away, fetched from inside the removed tail: no record, the next fetch starts past the batch', () => {
    // offsets 30..39 written, 37..39 removed by compaction: the batch keeps lastOffsetDelta 9
    const b = batch(30, [30, 31, 32, 33, 34, 35, 36].map((i) => rec(i)), { lastOffsetDelta: 9 });
    const after = batch(40, [rec(40)]);
    const bytes = Buffer.concat([b, after]);
    // the broker answers a fetch at 37 with the batch holding 37 (it ends at 39)
    expect(nextFetchOffset(b, 0, b.length, 37n)).toBe(40n);
    const d = decodeAll(b, { from: 37n });
    expect(d.records).toEqual([]);
    expect(d.next).toBe(40n);
    const both = decodeAll(bytes, { from: 37n });
    expect(both.records.map((r) => r.position)).toEqual([40n]);
    expect(both.next).toBe(41n);
  });

  it('an answer whose batches all end before the requested offset never moves the position back', () => {
    const b = batch(50, [50, 51].map((i) => rec(i)));
    expect(nextFetchOffset(b, 0, b.length, 60n)).toBe(60n);
    const d = decodeAll(b, { from: 60n });
    expect(d.records).toEqual([]);
    expect(d.next).toBe(60n);
  });

  it('reads gzip batches, and LogAppendTime batches take their max timestamp', () => {
    const g = [30, 31, 32].map((i) => rec(i));
    const bytes = Buffer.concat([batch(29, [rec(29)]), batch(30, g, { gzip: true }), batch(33, [rec(33)], { attributes: 8 })]);
    const d = decodeAll(bytes);
    expect(d.records.slice(0, 4).map(plain)).toEqual([rec(29), ...g].map(plain));
    const lat = d.records[4]!;
    expect(lat.timestampType).toBe('log-append');
    expect(lat.timestamp).toBe(Number(bytes.readBigInt64BE(bytes.length - encodeRecordBatch([rec(33)], NO_ID).length + 35)));
    expect(d.columns.length).toBe(3);
  });

  it('reads zstd batches with a decompressor, frames with and without a content size, native and zstd-codec', async () => {
    const rs = [40, 41, 42, 43].map((i) => rec(i));
    // the zstd command reading a pipe writes no content size, as Java's producer does
    const noSize = (raw: Buffer) => execFileSync('zstd', ['-q', '-c'], { input: raw });
    const withSize = (raw: Buffer) => execFileSync('zstd', ['-q', '-c', '--content-size', `--stream-size=${raw.length}`], { input: raw });
    expect(noSize(Buffer.alloc(1000, 1))[4]! & 0xc0).toBe(0); // frame header: no content size field
    const bytes = Buffer.concat([batch(40, rs.slice(0, 2), { zstd: noSize }), batch(42, rs.slice(2), { zstd: withSize })]);
    for (const impl of ['auto', 'wasm'] as const) {
      setZstdImplementation(impl);
      try {
        const zstd = await loadZstdDecompressor();
        expect(decodeAll(bytes, { zstd }).records.map(plain)).toEqual(rs.map(plain));
        // a damaged frame is an error, not fewer records
        const bad = Buffer.from(bytes);
        bad.fill(0x55, 61 + 8, 61 + 30);
        expect(() => decodeAll(bad, { zstd })).toThrow();
      } finally {
        setZstdImplementation('auto');
      }
    }
  });

  it('reads snappy and lz4 batches (hand-made frames: the codecs have tests of their own)', () => {
    const rs = [50, 51].map((i) => rec(i));
    // snappy: one literal holding everything; lz4: one uncompressed block in a frame
    const snappyOf = (raw: Buffer) => {
      const n = raw.length - 1;
      return Buffer.concat([Buffer.from([raw.length & 0x7f | 0x80, raw.length >> 7]), Buffer.from([62 << 2, n & 255, (n >> 8) & 255, n >> 16]), raw]);
    };
    const lz4Of = (raw: Buffer) => {
      const size = Buffer.alloc(4);
      size.writeUInt32LE((raw.length | 0x80000000) >>> 0);
      return Buffer.concat([Buffer.from([0x04, 0x22, 0x4d, 0x18, 0x60, 0x70, 0x73]), size, raw, Buffer.alloc(4)]);
    };
    expect(rs.map((r) => encodeRecordBatch([r], NO_ID).length).every((n) => n < 16000)).toBe(true);
    for (const [codec, of] of [[2, snappyOf], [3, lz4Of]] as const) {
      const b = batch(50, rs);
      const body = of(b.subarray(61));
      const z = Buffer.concat([b.subarray(0, 61), body]);
      z.writeInt32BE(z.length - 12, 8);
      z.writeInt16BE(codec, 21);
      expect(decodeAll(z).records.map(plain)).toEqual(rs.map(plain));
    }
  });

  it('refuses zstd batches without a decompressor, and codecs Kafka does not define, naming the codec and offset', () => {
    for (const [codec, name] of [[4, 'zstd'], [5, 'codec 5']] as const) {
      const bytes = Buffer.concat([batch(0, [rec(0)]), batch(1, [rec(1)], { attributes: codec })]);
      let err: unknown;
      try {
        decodeAll(bytes);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnsupportedCompression);
      expect((err as UnsupportedCompression).codec).toBe(name);
      expect((err as UnsupportedCompression).offset).toBe(1n);
    }
  });

  it('leaves an older message format, and a header name that is not UTF-8, to the other reader at the right offset', () => {
    const old = decodeAll(Buffer.concat([batch(0, [rec(0), rec(1)]), batch(2, [rec(2)], { magic: 1 })]));
    expect(old.records.map((r) => r.position)).toEqual([0n, 1n]);
    expect(old.unsupported?.offset).toBe(2n);
    expect(old.unsupported?.reason).toMatch(/message format v1/);
    const bad = rec(5, { headers: [{ name: 'ok', value: null }, { name: 'xx', value: null }] });
    const b = batch(4, [rec(4), bad, rec(6)]);
    const at = b.lastIndexOf(Buffer.from('xx'));
    b[at] = 0xff; // not UTF-8
    const d = decodeAll(b);
    expect(d.records.map((r) => r.position)).toEqual([4n]);
    expect(d.unsupported).toEqual({ offset: 5n, reason: 'a header name that is not UTF-8' });
  });

  it('read_committed: records of aborted transactions and all control batches are left out, as Kafka consumers do', () => {
    const p1 = 7n;
    const p2 = 8n;
    const bytes = Buffer.concat([
      batch(0, [rec(0), rec(1)], { attributes: 0x10, producerId: p1 }), // p1, aborted below
      batch(2, [rec(2)], { attributes: 0x10, producerId: p2 }), // p2, committed
      batch(3, [rec(3)]), // not transactional
      marker(4, p1, true),
      marker(5, p2, false),
      batch(6, [rec(6)], { attributes: 0x10, producerId: p1 }), // p1 again, a new transaction: committed
      marker(7, p1, false),
    ]);
    const aborted = [{ producerId: p1, firstOffset: 0n }];
    expect(decodeAll(bytes, { readCommitted: true, aborted }).records.map((r) => r.position)).toEqual([2n, 3n, 6n]);
    expect(decodeAll(bytes, { readCommitted: false, aborted }).records.map((r) => r.position)).toEqual([0n, 1n, 2n, 3n, 6n]);
    const d = decodeAll(bytes, { readCommitted: true, aborted });
    expect(d.next).toBe(8n);
  });

  it('decodes a Fetch v4 answer with each partition records kept as bytes', () => {
    const recs = batch(0, [rec(0), rec(1)]);
    const name = Buffer.from('orders');
    const head = Buffer.alloc(4 + 4 + 2);
    head.writeInt32BE(0, 0); // throttle
    head.writeInt32BE(1, 4); // one topic
    head.writeInt16BE(name.length, 8);
    const part = (partition: number, errorCode: number, aborted: Array<[bigint, bigint]>, records: Buffer | null) => {
      const b = Buffer.alloc(4 + 2 + 8 + 8 + 4 + aborted.length * 16 + 4);
      let o = b.writeInt32BE(partition, 0);
      o = b.writeInt16BE(errorCode, o);
      o = b.writeBigInt64BE(99n, o);
      o = b.writeBigInt64BE(98n, o);
      o = b.writeInt32BE(aborted.length, o);
      for (const [pid, first] of aborted) {
        o = b.writeBigInt64BE(pid, o);
        o = b.writeBigInt64BE(first, o);
      }
      b.writeInt32BE(records ? records.length : -1, o);
      return records ? Buffer.concat([b, records]) : b;
    };
    const count = Buffer.alloc(4);
    count.writeInt32BE(2);
    const answer = Buffer.concat([head, name, count, part(0, 0, [[5n, 1n]], recs), part(1, 1, [], null)]);
    const f = decodeFetchV4(answer);
    const p0 = f.partitions.get('orders\u00000')!;
    expect(p0.errorCode).toBe(0);
    expect(p0.aborted).toEqual([{ producerId: 5n, firstOffset: 1n }]);
    expect(Buffer.compare(answer.subarray(p0.recordsStart, p0.recordsEnd), recs)).toBe(0);
    expect(f.partitions.get('orders\u00001')).toMatchObject({ errorCode: 1, aborted: [] });
    expect(f.partitions.get('orders\u00001')!.recordsEnd - f.partitions.get('orders\u00001')!.recordsStart).toBe(0);
    expect(() => decodeFetchV4(answer.subarray(0, answer.length - 3))).toThrow(/cut off/);
  });
});

describe('the archive written from columns', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mqbak-columns-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('encodes each record byte for byte as from the record itself', () => {
    const rs = Array.from({ length: 50 }, (_, i) => rec(i, i === 7 ? { timestamp: null, timestampType: null } : {}));
    const b = batch(0, rs.map((r, i) => (i === 7 ? { ...r, timestamp: -1 } : r)));
    const cols = decodeAll(b).columns[0]!;
    for (let i = 0; i < rs.length; i++) expect(Buffer.from(encodeRecord(columnRecord(cols, i)))).toEqual(Buffer.from(encodeRecord(rs[i]!)));
    expect(columnRecord(cols, 7).timestamp).toBeNull();
    expect(columnRecord(cols, 7).timestampType).toBeNull();
  });

  it('appendColumns and appendMany of the same records store the same segments, also for records larger than a block', async () => {
    const big = new Uint8Array(5000).map((_, i) => (i * 7) % 251);
    const rs = Array.from({ length: 400 }, (_, i) => rec(i, i === 123 ? { value: big } : {}));
    const cols: RecordColumns[] = [decodeAll(Buffer.concat([batch(0, rs.slice(0, 200)), batch(200, rs.slice(200))])).columns[0]!];
    const write = async (name: string, add: (w: Awaited<ReturnType<typeof openBackupWriter>>, s: ReturnType<Awaited<ReturnType<typeof openBackupWriter>>['openStream']>) => Promise<void>) => {
      const store = new LocalStore(path.join(dir, name));
      const w = await openBackupWriter({
        store,
        kind: 'full',
        parent: null,
        source: { broker: 'kafka', url: 'kafka://x', chainKey: 'kafka:x:t', options: {} },
        toolVersion: '0.0.0-test',
        id: '20261201T000000000Z-abcdef',
        now: () => new Date('2026-12-01T00:00:00Z'),
        blockSize: 2048,
        segmentSize: 16 * 1024,
      });
      const s = w.openStream({ name: 'kafka/t/0', address: { topic: 't', partition: 0 }, from: 0n });
      await add(w, s);
      await s.close(400n);
      await w.commit();
      return path.join(dir, name);
    };
    const a = await write('columns', async (_w, s) => {
      for (const c of cols) await s.appendColumns(c);
    });
    const b = await write('records', async (_w, s) => {
      await s.appendMany(rs);
    });
    const manifest = 'manifests/20261201T000000000Z-abcdef.json';
    expect(await readFile(path.join(a, manifest), 'utf8')).toBe(await readFile(path.join(b, manifest), 'utf8'));
    const m = JSON.parse(await readFile(path.join(a, manifest), 'utf8')) as { streams: Array<{ segments: Array<{ key: string }> }> };
    expect(m.streams[0]!.segments.length).toBeGreaterThan(2);
    for (const seg of m.streams[0]!.segments) expect(await readFile(path.join(a, seg.key))).toEqual(await readFile(path.join(b, seg.key)));
  });

  it('refuses columns whose positions do not increase or go back before the last record', async () => {
    const store = new LocalStore(dir);
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: { broker: 'kafka', url: 'kafka://x', chainKey: 'kafka:x:t', options: {} }, toolVersion: '0' });
    const s = w.openStream({ name: 'kafka/t/0', address: { topic: 't', partition: 0 }, from: 5n });
    const early = decodeAll(batch(3, [rec(3), rec(4), rec(5)])).columns[0]!;
    await expect(s.appendColumns(early)).rejects.toThrow(/before the stream's from 5/);
    const ok = decodeAll(batch(5, [rec(5), rec(6)])).columns[0]!;
    await s.appendColumns(ok);
    await expect(s.appendColumns(ok)).rejects.toThrow(/position 5 does not follow 6/);
    await w.abort();
  });
});
