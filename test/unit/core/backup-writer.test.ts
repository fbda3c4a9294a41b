import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { columnRecord, type ArchiveRecord } from '../../../src/common/record.js';
import { LocalStore } from '../../../src/stores/local.js';
import { openBackupWriter, type BackupWriterOptions } from '../../../src/core/backup-writer.js';
import { budgetShare } from '../../../src/core/backup-stream.js';
import { findLatest, listBackups, loadManifest, readSegment, readStream, readStreamColumns, resolveChain, streamFitsColumns } from '../../../src/core/backup-reader.js';
import { encodeRecord } from '../../../src/archive/record-encoder.js';
import { amqpToAttributes } from '../../../src/brokers/rabbitmq/amqp-json.js';
import type { SourceDescription } from '../../../src/archive/manifest.js';
import { pseudoRandomBytes } from '../../helpers/random.js';

const enc = (s: string) => new TextEncoder().encode(s);


function kafkaRecords(from: bigint, n: number): ArchiveRecord[] {
  const out: ArchiveRecord[] = [];
  for (let i = 0; i < n; i++) {
    const position = from + BigInt(i * 2); // gaps between offsets (compaction, transactions)
    const kind = i % 7;
    out.push({
      position,
      timestamp: kind === 3 ? null : 1_700_000_000_000 + i,
      timestampType: kind === 3 ? null : kind % 2 === 0 ? 'create' : 'log-append',
      key: kind === 0 ? null : kind === 1 ? new Uint8Array(0) : kind === 2 ? pseudoRandomBytes(16, i + 1) : enc(`key-${i}`),
      value: kind === 4 ? null : kind === 5 ? new Uint8Array(0) : kind === 6 ? pseudoRandomBytes(3000 + (i % 5) * 1000, i + 7) : enc(`value ${i} `.repeat(i % 13)),
      headers:
        kind === 2
          ? [
              { name: 'trace', value: enc('a') },
              { name: 'trace', value: enc('b') },
              { name: 'nul', value: null },
              { name: 'empty', value: new Uint8Array(0) },
              { name: 'bin', value: pseudoRandomBytes(5, i) },
              { name: 'ünïcode ☃', value: enc('x') },
            ]
          : [],
      attributes: null,
    });
  }
  return out;
}

function amqpRecords(n: number): ArchiveRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    position: BigInt(i),
    timestamp: i % 2 ? 1_700_000_000_000 + i : null,
    timestampType: null,
    key: null,
    value: i === 3 ? new Uint8Array(0) : enc(JSON.stringify({ job: i })),
    headers: [],
    attributes: amqpToAttributes({
      exchange: i % 2 ? 'orders' : '',
      routingKey: `jobs.${i}`,
      redelivered: i % 3 === 0,
      properties:
        i === 1
          ? {}
          : {
              contentType: 'application/json',
              contentEncoding: 'identity',
              deliveryMode: 2,
              priority: i % 10,
              correlationId: `c-${i}`,
              replyTo: 'amq.rabbitmq.reply-to',
              expiration: '60000',
              messageId: `m-${i}`,
              timestamp: 1_700_000_000 + i,
              type: 'job',
              userId: 'guest',
              appId: 'app',
              clusterId: 'c1',
              headers: [
                { name: 'x-str', value: { type: 'string', value: 'hello' } },
                { name: 'x-bytes', value: { type: 'bytes', value: Buffer.from([0, 255, 1]).toString('base64') } },
                { name: 'x-bool', value: { type: 'bool', value: false } },
                { name: 'x-i8', value: { type: 'int8', value: -5 } },
                { name: 'x-u32', value: { type: 'uint32', value: 4_000_000_000 } },
                { name: 'x-i64', value: { type: 'int64', value: '-9223372036854775808' } },
                { name: 'x-float', value: { type: 'float', value: 1.5 } },
                { name: 'x-nan', value: { type: 'double', value: NaN } },
                { name: 'x-inf', value: { type: 'double', value: -Infinity } },
                { name: 'x-negzero', value: { type: 'double', value: -0 } },
                { name: 'x-dec', value: { type: 'decimal', places: 2, digits: 12345 } },
                { name: 'x-ts', value: { type: 'timestamp', value: 1_700_000_000 } },
                { name: 'x-void', value: { type: 'void' } },
                { name: 'x-str', value: { type: 'string', value: 'repeated name' } },
                {
                  name: 'x-table',
                  value: { type: 'table', value: [{ name: 'inner', value: { type: 'array', value: [{ type: 'int16', value: 7 }, { type: 'double', value: Infinity }] } }] },
                },
              ],
            },
    }),
  }));
}

const kafkaSource: SourceDescription = { broker: 'kafka', url: 'kafka://localhost:9092', chainKey: 'kafka:test:orders', options: {} };

describe('archive round trip through the local store', () => {
  let dir: string;
  let store: LocalStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-rt-'));
    store = new LocalStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeBackup(opts: Partial<BackupWriterOptions>, streams: Array<{ name: string; records: ArchiveRecord[]; from: bigint; to: bigint; rabbit?: boolean }>) {
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: kafkaSource, toolVersion: '0.0.0-test', ...opts });
    await Promise.all(
      streams.map(async (s) => {
        const sw = w.openStream(
          s.rabbit
            ? { name: s.name, address: { vhost: '/', queue: s.name, queueType: 'classic' }, from: s.from }
            : { name: s.name, address: { topic: 'orders', partition: Number(s.name.split('/').pop()) }, from: s.from },
        );
        for (const r of s.records) await sw.append(r);
        await sw.close(s.to);
      }),
    );
    w.setMetadata('kafka', { topics: [{ name: 'orders', partitions: 2 }] });
    const committed = await w.commit();
    return { committed };
  }

  // heavy (600+ records over many blocks and segments): the default 5 s is too short on a loaded machine
  it('gives back every record feature exactly, over many blocks and segments', async () => {
    const k0 = kafkaRecords(100n, 600);
    const k1 = kafkaRecords(0n, 0);
    const q = amqpRecords(50);
    // a record larger than several blocks, between small ones
    k0.splice(300, 0, { position: k0[299]!.position + 1n, timestamp: 5, timestampType: 'create', key: enc('big'), value: pseudoRandomBytes(10_000, 3), headers: [], attributes: null });
    const { committed } = await writeBackup({ blockSize: 1024, segmentSize: 64 * 1024 }, [
      { name: 'kafka/orders/0', records: k0, from: 100n, to: 2000n },
      { name: 'kafka/orders/1', records: k1, from: 7n, to: 7n },
      { name: 'rabbitmq/%2F/jobs', records: q, from: 0n, to: 50n, rabbit: true },
    ]);
    const m = committed.manifest;
    expect(m.streams.map((s) => s.name)).toEqual(['kafka/orders/0', 'kafka/orders/1', 'rabbitmq/%2F/jobs']);
    expect(m.streams[0]!.records).toBe(k0.length);
    expect(m.streams[0]!.segments.length).toBeGreaterThan(5);
    expect(m.streams[1]!.segments).toEqual([]);
    expect(m.streams[1]!).toMatchObject({ from: '7', to: '7', records: 0 });

    const loaded = await loadManifest(store, m.id);
    expect(loaded.sha256).toBe(committed.sha256);
    expect(loaded.manifest).toEqual(m);
    for (const [i, expected] of [k0, k1, q].entries()) {
      const got: ArchiveRecord[] = [];
      for await (const r of readStream(store, loaded.manifest.streams[i]!)) got.push(r);
      expect(got.length).toBe(expected.length);
      // byte-exact: re-encoding gives the same bytes (NaN and -0 compare as themselves)
      got.forEach((r, j) => expect(Buffer.from(encodeRecord(r)).equals(Buffer.from(encodeRecord(expected[j]!))), `record ${j}`).toBe(true));
      expect(got).toEqual(expected);
    }
    // the column reader (Kafka restore) gives back the same records, blocks split records included
    for (const [i, expected] of [k0, k1, q].entries()) {
      const got: ArchiveRecord[] = [];
      for await (const c of readStreamColumns(store, loaded.manifest.streams[i]!)) for (let j = 0; j < c.count; j++) got.push(columnRecord(c, j));
      // the attributes part too (as its JSON, parsed by columnRecord)
      expect(got).toEqual(expected);
    }
    // fromPosition skips earlier records and whole segments
    const tail: bigint[] = [];
    for await (const r of readStream(store, loaded.manifest.streams[0]!, { fromPosition: 1000n })) tail.push(r.position);
    expect(tail).toEqual(k0.filter((r) => r.position >= 1000n).map((r) => r.position));
  }, 60_000);

  it('zstd -dc reads a segment and prints the concatenated record encodings', async () => {
    const recs = kafkaRecords(0n, 200);
    const { committed } = await writeBackup({ blockSize: 2048, segmentSize: 1 << 30 }, [{ name: 'kafka/orders/0', records: recs, from: 0n, to: 1000n }]);
    const seg = committed.manifest.streams[0]!.segments;
    expect(seg.length).toBe(1);
    const raw = execFileSync('zstd', ['-dc', join(dir, ...seg[0]!.key.split('/'))]);
    const expected = Buffer.concat(recs.map((r) => encodeRecord(r)));
    expect(raw.equals(expected)).toBe(true);
  });

  it('stores records bigger than the default block size (split over blocks)', async () => {
    const big = pseudoRandomBytes(9 * 1024 * 1024 + 5, 11);
    const recs: ArchiveRecord[] = [
      { position: 0n, timestamp: 1, timestampType: 'create', key: null, value: enc('small'), headers: [], attributes: null },
      { position: 1n, timestamp: 2, timestampType: 'create', key: null, value: big, headers: [{ name: 'h', value: big.subarray(0, 100) }], attributes: null },
      { position: 2n, timestamp: 3, timestampType: 'create', key: null, value: enc('after'), headers: [], attributes: null },
    ];
    const { committed } = await writeBackup({}, [{ name: 'kafka/orders/0', records: recs, from: 0n, to: 3n }]);
    const got: ArchiveRecord[] = [];
    for await (const r of readSegment(store, committed.manifest.streams[0]!.segments[0]!)) got.push(r);
    expect(got.length).toBe(3);
    // byte comparison: a deep equal of 9 MiB element by element takes a minute
    got.forEach((r, j) => expect(Buffer.from(encodeRecord(r)).equals(Buffer.from(encodeRecord(recs[j]!)))).toBe(true));
    expect(got[1]!.value!.length).toBe(big.length);
    const cols: ArchiveRecord[] = [];
    for await (const c of readStreamColumns(store, committed.manifest.streams[0]!)) for (let j = 0; j < c.count; j++) cols.push(columnRecord(c, j));
    expect(cols.length).toBe(3);
    cols.forEach((r, j) => expect(Buffer.from(encodeRecord(r)).equals(Buffer.from(encodeRecord(recs[j]!)))).toBe(true));
  });

  it('the column reader refuses what the record reader refuses, and positions past 2^53', async () => {
    const recs = kafkaRecords(0n, 50);
    const { committed } = await writeBackup({ blockSize: 2048 }, [{ name: 'kafka/orders/0', records: recs, from: 0n, to: 100n }]);
    const stream = committed.manifest.streams[0]!;
    const drain = async (it: AsyncIterable<unknown>) => {
      for await (const _ of it) void _;
    };
    // a manifest whose range and counts disagree with the segments
    const wrongCount = { ...stream, records: stream.records + 1 };
    await expect(drain(readStreamColumns(store, wrongCount))).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/51 records|50 records/) });
    await expect(drain(readStream(store, wrongCount))).rejects.toMatchObject({ code: 'integrity' });
    const narrow = { ...stream, to: '40' };
    await expect(drain(readStreamColumns(store, narrow))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining("outside the stream's range") });
    expect(streamFitsColumns(stream)).toBe(true);
    expect(streamFitsColumns({ ...stream, to: String(2n ** 53n + 1n) })).toBe(false);

    const huge: ArchiveRecord[] = [{ position: 2n ** 60n, timestamp: 1, timestampType: 'create', key: null, value: enc('x'), headers: [], attributes: null }];
    const h = await writeBackup({ id: '20261125T010000000Z-cccccc' }, [{ name: 'kafka/orders/0', records: huge, from: 2n ** 60n, to: 2n ** 60n + 1n }]);
    await expect(drain(readStreamColumns(store, h.committed.manifest.streams[0]!))).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(String(2n ** 60n)) });
  });

  it('chains: incremental after full, resolveChain, findLatest, listBackups', async () => {
    const t0 = new Date('2026-11-25T01:00:00.000Z');
    const full = await writeBackup({ id: '20261125T010000000Z-aaaaaa', now: () => t0 }, [{ name: 'kafka/orders/0', records: kafkaRecords(0n, 10), from: 0n, to: 20n }]);
    const inc = await writeBackup(
      { id: '20261125T020000000Z-bbbbbb', kind: 'incremental', parent: { id: full.committed.manifest.id, sha256: full.committed.sha256 } },
      [{ name: 'kafka/orders/0', records: kafkaRecords(20n, 5), from: 20n, to: 30n }],
    );
    expect(inc.committed.manifest.parent).toEqual({ id: '20261125T010000000Z-aaaaaa', sha256: full.committed.sha256 });
    const chain = await resolveChain(store, 'latest');
    expect(chain.map((c) => c.manifest.id)).toEqual(['20261125T010000000Z-aaaaaa', '20261125T020000000Z-bbbbbb']);
    expect((await resolveChain(store, '20261125T010000000Z-aaaaaa')).length).toBe(1);
    expect((await findLatest(store, kafkaSource.chainKey))?.manifest.id).toBe('20261125T020000000Z-bbbbbb');
    expect(await findLatest(store, 'other')).toBeNull();
    expect((await listBackups(store)).map((b) => b.manifest.kind)).toEqual(['full', 'incremental']);
    expect(full.committed.manifest.startedAt).toBe('2026-11-25T01:00:00.000Z');
    await expect(loadManifest(store, '20261125T030000000Z-cccccc')).rejects.toMatchObject({ code: 'not-found' });
    await expect(resolveChain(store, 'latest', { chainKey: 'nope' })).rejects.toMatchObject({ code: 'not-found' });
  });

  it('a child started in the same millisecond as its parent (or with the clock behind) still sorts after it', async () => {
    const t = new Date('2026-11-25T01:00:00.000Z');
    const full = await writeBackup({ id: '20261125T010000000Z-ffffff', now: () => t }, [{ name: 'kafka/orders/0', records: kafkaRecords(0n, 2), from: 0n, to: 4n }]);
    const early = new Date('2026-11-25T00:59:00.000Z');
    const inc = await writeBackup(
      { kind: 'incremental', parent: { id: full.committed.manifest.id, sha256: full.committed.sha256 }, now: () => early },
      [{ name: 'kafka/orders/0', records: kafkaRecords(4n, 2), from: 4n, to: 8n }],
    );
    expect(inc.committed.manifest.id).toMatch(/^20261125T010000001Z-[0-9a-f]{6}$/);
    expect((await resolveChain(store, 'latest')).map((c) => c.manifest.kind)).toEqual(['full', 'incremental']);
  });

  it('refuses a manifest of a newer format version, with a hint to upgrade', async () => {
    const { committed } = await writeBackup({ id: '20261125T010000000Z-aaaaaa' }, [{ name: 'kafka/orders/0', records: kafkaRecords(0n, 3), from: 0n, to: 10n }]);
    const other = new LocalStore(join(dir, 'v3'));
    const text = (await readFile(join(dir, 'manifests', `${committed.manifest.id}.json`), 'utf8')).replace('"version": 2', '"version": 5');
    await other.put(`manifests/${committed.manifest.id}.json`, enc(text));
    const e = await loadManifest(other, committed.manifest.id).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'unsupported' });
    expect((e as { hint: string }).hint).toMatch(/upgrade mqbak/);
  });

  it('abort leaves stored segments unreferenced and no manifest', async () => {
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: kafkaSource, toolVersion: 't', blockSize: 1024, segmentSize: 2048 });
    const s = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 0n });
    for (const r of kafkaRecords(0n, 50)) await s.append(r);
    await s.flush();
    await w.abort();
    const keys: string[] = [];
    for await (const o of store.list('')) keys.push(o.key);
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.startsWith(`segments/${w.id}/`))).toBe(true);
    expect(await listBackups(store)).toEqual([]);
    await expect(s.append(kafkaRecords(1000n, 1)[0]!)).rejects.toThrow(/aborted/);
  });

  it('flush stores the buffered records as a segment and resolves once it is stored; with nothing buffered it stores nothing', async () => {
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: kafkaSource, toolVersion: 't' });
    const s = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 0n });
    const stored = async () => {
      const keys: string[] = [];
      for await (const o of store.list(`segments/${w.id}/`)) keys.push(o.key);
      return keys.sort();
    };
    for (const r of kafkaRecords(0n, 3)) await s.append(r);
    expect(await stored()).toEqual([]);
    await s.flush();
    expect(await stored()).toEqual([`segments/${w.id}/0000/0000000000.seg`]);
    await s.flush(); // nothing buffered: no segment
    expect(await stored()).toHaveLength(1);
    for (const r of kafkaRecords(10n, 2)) await s.append(r);
    await s.flush();
    expect(await stored()).toEqual([`segments/${w.id}/0000/0000000000.seg`, `segments/${w.id}/0000/0000000001.seg`]);
    await w.abort();
  });

  it('a store that fails a put fails the stream with the segment named, and nothing is committed', async () => {
    const failing = Object.create(store) as LocalStore;
    failing.put = async (key: string) => {
      throw new Error(`disk full writing ${key}`);
    };
    const w = await openBackupWriter({ store: failing, kind: 'full', parent: null, source: kafkaSource, toolVersion: 't', blockSize: 1024, segmentSize: 1024 });
    const s = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 0n });
    const err = await (async () => {
      for (const r of kafkaRecords(0n, 100)) await s.append(r);
      await s.close(1000n);
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unreachable', message: expect.stringMatching(/store segment segments\/.*\.seg: disk full/) });
    await w.abort();
    expect(await listBackups(store)).toEqual([]);
  });

  it('a memory budget over all streams cuts segments early, bounds what is held, and loses nothing', async () => {
    // incompressible values: compressed segments are as large as raw ones (the worst case)
    const opts = { blockSize: 4096, segmentSize: 256 * 1024, memoryBudget: 64 * 1024 };
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: kafkaSource, toolVersion: 't', ...opts });
    const streams = [0, 1, 2, 3].map((p) => w.openStream({ name: `kafka/orders/${p}`, address: { topic: 'orders', partition: p }, from: 0n }));
    const written: ArchiveRecord[][] = [[], [], [], []];
    let maxHeld = 0;
    const held = () => (w as unknown as { held: number }).held;
    for (let i = 0; i < 400; i++) {
      for (const [p, sw] of streams.entries()) {
        const r: ArchiveRecord = { position: BigInt(i), timestamp: i, timestampType: null, key: null, value: pseudoRandomBytes(1000, i * 4 + p + 1), headers: [], attributes: null };
        written[p]!.push(r);
        await sw.appendMany([r]);
        maxHeld = Math.max(maxHeld, held());
      }
    }
    for (const sw of streams) await sw.close(400n);
    const { manifest } = await w.commit();
    expect(held()).toBe(0);
    // without the budget each stream would hold up to 256 KiB (4 x 256 KiB in all); with it, each
    // holds at most a segment being stored and one being built (its share, 64 KiB / 4 streams,
    // plus a block and a record each), an open block and one being compressed
    const share = budgetShare(64 * 1024, 4);
    expect(share).toBe(16 * 1024);
    expect(maxHeld).toBeLessThan(4 * (2 * (share + 4096 + 1100) + 2 * 4096));
    for (const [p, st] of manifest.streams.entries()) {
      // 400 KB per stream with 256 KiB segments would be 2 segments; the budget cuts more, smaller ones
      expect(st.segments.length).toBeGreaterThan(3);
      for (const seg of st.segments) expect(seg.bytes).toBeLessThan(64 * 1024);
      const back: ArchiveRecord[] = [];
      for await (const r of readStream(store, st)) back.push(r);
      expect(back.map((r) => r.position)).toEqual(written[p]!.map((r) => r.position));
      expect(back.every((r, i) => Buffer.from(r.value!).equals(Buffer.from(written[p]![i]!.value!)))).toBe(true);
    }
  });

  it('refuses positions that do not increase, and a close that does not cover them', async () => {
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: kafkaSource, toolVersion: 't' });
    const s = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 5n });
    await expect(s.append(kafkaRecords(4n, 1)[0]!)).rejects.toThrow(/before the stream's from/);
    await s.append(kafkaRecords(5n, 1)[0]!);
    await expect(s.append(kafkaRecords(5n, 1)[0]!)).rejects.toThrow(/does not follow/);
    await expect(s.close(5n)).rejects.toThrow(/does not cover/);
    await expect(w.commit()).rejects.toThrow(/not closed/);
  });

  it('the writer is deterministic: same input, id and clock give the same bytes', async () => {
    const t = new Date('2026-11-25T01:00:00.000Z');
    const opts = { id: '20261125T010000000Z-abcdef', now: () => t, blockSize: 4096, segmentSize: 32 * 1024 };
    const a = await writeBackup(opts, [{ name: 'kafka/orders/0', records: kafkaRecords(0n, 300), from: 0n, to: 600n }]);
    const dir2 = await mkdtemp(join(tmpdir(), 'mqbak-rt-'));
    const store2 = new LocalStore(dir2);
    const w = await openBackupWriter({ store: store2, kind: 'full', parent: null, source: kafkaSource, toolVersion: '0.0.0-test', ...opts });
    const s = w.openStream({ name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: 0n });
    for (const r of kafkaRecords(0n, 300)) await s.append(r);
    await s.close(600n);
    w.setMetadata('kafka', { topics: [{ name: 'orders', partitions: 2 }] });
    const b = await w.commit();
    expect(b.sha256).toBe(a.committed.sha256);
    for (const seg of a.committed.manifest.streams[0]!.segments) {
      expect(Buffer.from(await store2.get(seg.key)).equals(Buffer.from(await store.get(seg.key)))).toBe(true);
    }
    await rm(dir2, { recursive: true, force: true });
  });
});
