import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it as itBase } from 'vitest';
import { crc32 } from 'node:zlib';
import { nativeZstdPath, setZstdImplementation, zstdCodec, zstdImplementation, type BlockCodec } from '../../../src/archive/codec.js';
import { decodeSegment, scanSegment } from '../../../src/archive/segment-reader.js';
import { SegmentBuilder } from '../../../src/archive/segment-builder.js';
import { FIRST_CHUNK_SIZE, SEGMENT_CHUNK_SIZE } from '../../../src/archive/buffer-pools.js';
import { createZstdPool, workerScanCodec, type CheckingBlockCodec, type ZstdPool } from '../../../src/archive/zstd-pool.js';
import type { ArchiveRecord } from '../../../src/common/record.js';
import { blockAad } from '../../../src/archive/encryption/block-seal.js';
import { gcmOpen } from '../../../src/archive/encryption/aead.js';
import { blockNonce, MAX_BLOCK_INDEX, MAX_STREAM_INDEX } from '../../../src/archive/encryption/nonce.js';
import type { SegmentSealing } from '../../../src/archive/encryption/store-key.js';
import { deriveBackupKeys } from '../../../src/archive/encryption/subkeys.js';
import { decodeBlockHeader, type BlockHeader } from '../../../src/archive/segment-framing.js';
import { blockSealJob, openSegmentBlock, sealSegmentBlock } from '../../../src/archive/segment-sealing.js';

const haveNative = nativeZstdPath() !== null;

// an encrypted store's blocks, sealed in the worker right after compression (segment-sealing.ts)
const master = Buffer.alloc(32, 9);
const sealingAt = (id: string, streamIndex: number, segmentSeq: number): SegmentSealing => ({ keys: deriveBackupKeys(master, id), streamIndex, segmentSeq });
const header = (raw: Uint8Array, i: number): BlockHeader => ({
  version: 1, codec: 1, flags: i % 2, rawLength: raw.length, compressedLength: 0, rawCrc: crc32(raw), compressedCrc: 0, records: 10 + (i % 1000), firstPosition: BigInt(i) * 100n, lastPosition: BigInt(i) * 100n + 9n,
});

/** A segment of `records` in blocks of 16 KiB, through `codec` with `concurrency` compressions at once. */
async function buildSegment(records: ArchiveRecord[], codec: BlockCodec, concurrency: number, sealing: SegmentSealing | null = null): Promise<Uint8Array> {
  const b = new SegmentBuilder(codec, 1, 16 * 1024, concurrency, sealing);
  for (const r of records) {
    b.addNow(r);
    const wait = b.backpressure();
    if (wait) await wait;
  }
  return b.finish();
}

// both implementations: the native binding (where it is installed) and zstd-codec
const IMPLEMENTATIONS: Array<[string, 'native' | 'wasm']> = [
  ['native (zstd-napi)', 'native'],
  ['zstd-codec', 'wasm'],
];

describe.each(IMPLEMENTATIONS)('zstd worker pool, %s', (_name, impl) => {
  let pool: ZstdPool;
  beforeAll(() => {
    if (impl === 'native' && !haveNative) return;
    setZstdImplementation(impl);
    pool = createZstdPool({ size: 2 });
  });
  afterAll(async () => {
    await pool?.close();
    setZstdImplementation('auto');
  });
  const it = impl === 'native' && !haveNative ? itBase.skip : itBase;

  it('compresses to the same bytes as zstd in this thread, and back', async () => {
    expect(zstdImplementation()).toBe(impl);
    const blocks = [new TextEncoder().encode('hello '.repeat(10_000)), randomBytes(4 * 1024 * 1024), new Uint8Array([1])];
    const out = await Promise.all(blocks.map((b) => pool.compress(b, 3)));
    for (const [i, b] of blocks.entries()) {
      expect(Buffer.from(out[i]!).equals(Buffer.from(await zstdCodec.compress(b, 3)))).toBe(true);
      expect(Buffer.from(await pool.decompress(out[i]!, b.length)).equals(Buffer.from(b))).toBe(true);
      expect(execFileSync('zstd', ['-dc'], { input: out[i]!, maxBuffer: 64 << 20 }).equals(Buffer.from(b))).toBe(true);
    }
  });

  it('runs many jobs concurrently, in any order, each to its own result', async () => {
    const blocks = Array.from({ length: 40 }, (_, i) => new TextEncoder().encode(`block ${i} `.repeat(1000 + i)));
    const out = await Promise.all(blocks.map((b) => pool.compress(b, 1)));
    const back = await Promise.all(out.map((f, i) => pool.decompress(f, blocks[i]!.length)));
    back.forEach((b, i) => expect(Buffer.from(b).equals(Buffer.from(blocks[i]!))).toBe(true));
  });

  it('a damaged frame fails as integrity, and the pool keeps working', async () => {
    const f = await pool.compress(new TextEncoder().encode('abc'.repeat(1000)), 3);
    const bad = Uint8Array.from(f);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff;
    await expect(pool.decompress(bad, 3000)).rejects.toMatchObject({ code: expect.stringMatching(/integrity|internal/) });
    expect((await pool.decompress(f, 3000)).length).toBe(3000);
  });

  it('compressBlock moves the block to the worker and hands the same memory back, with both CRCs', async () => {
    const block = Buffer.allocUnsafeSlow(1 << 20);
    block.fill('event {"id": 1, "type": "order.created"} ');
    const raw = block.subarray(0, 300_000);
    const copy = Buffer.from(raw);
    const r = await pool.compressBlock!(raw, 1, { transfer: true });
    expect(block.byteLength).toBe(0); // moved, not copied
    expect(r.returned).not.toBeNull();
    expect(r.returned!.byteLength).toBe(1 << 20);
    expect(Buffer.from(r.returned!.subarray(0, 300_000)).equals(copy)).toBe(true);
    expect(r.rawCrc).toBe(crc32(copy));
    expect(r.frameCrc).toBe(crc32(r.frame));
    expect(Buffer.from(await zstdCodec.decompress(r.frame, copy.length)).equals(copy)).toBe(true);
    // without transfer, or from a view inside a larger buffer, the caller's bytes stay where they are
    const kept = Buffer.from('abc'.repeat(5000));
    const r2 = await pool.compressBlock!(kept, 1, { transfer: false });
    expect(kept.length).toBe(15000);
    expect(r2.returned).toBeNull();
    expect(r2.rawCrc).toBe(crc32(kept));
  });

  it('compressBlock compresses into a frame buffer that comes back for the next block once released', async () => {
    const a = new TextEncoder().encode('{"type":"order.created","id":1} '.repeat(20_000));
    const b = randomBytes(700_000); // incompressible: the frame is bigger than the raw block
    const ra = await pool.compressBlock!(a, 1, { transfer: false });
    expect(Buffer.from(await zstdCodec.decompress(ra.frame, a.length)).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(ra.frame).equals(Buffer.from(await zstdCodec.compress(a, 1)))).toBe(true);
    expect(ra.frameCrc).toBe(crc32(ra.frame));
    const memory = ra.frame.buffer;
    ra.release!();
    ra.release!(); // a second call changes nothing
    const rb = await pool.compressBlock!(b, 1, { transfer: false });
    // the released buffer went to the worker for this block (which detaches it here) and came back
    expect(memory.byteLength).toBe(0);
    expect(rb.frame.length).toBeGreaterThan(b.length);
    expect(Buffer.from(await zstdCodec.decompress(rb.frame, b.length)).equals(Buffer.from(b))).toBe(true);
    // while one is lent out, the next block gets other memory and leaves it as it is
    const lent = rb.frame.buffer;
    const rc = await pool.compressBlock!(a, 1, { transfer: false });
    expect(lent.byteLength).toBeGreaterThan(0);
    expect(Buffer.from(await zstdCodec.decompress(rb.frame, b.length)).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(await zstdCodec.decompress(rc.frame, a.length)).equals(Buffer.from(a))).toBe(true);
    rb.release!();
    rc.release!();
  });

  it('a segment of several chunks comes out as parts that join to the same bytes, and its chunks are reused', async () => {
    // incompressible values: about 3.5 MiB of frames, so the segment spans several chunks
    const values = Array.from({ length: 900 }, (_, i) => randomBytes(3000 + (i % 7) * 300));
    const build = async (codec: typeof zstdCodec, concurrency: number) => {
      const b = new SegmentBuilder(codec, 1, 64 * 1024, concurrency);
      for (const [i, v] of values.entries()) {
        b.addNow({ position: BigInt(i), timestamp: 1_700_000_000_000 + i, timestampType: null, key: null, value: v, headers: [], attributes: null });
        const wait = b.backpressure();
        if (wait) await wait;
      }
      return b;
    };
    const whole = await (await build(zstdCodec, 1)).finish();
    const seg = await (await build(pool, 3)).finishParts();
    // chunks of 16 KiB, 32 KiB, ... up to SEGMENT_CHUNK_SIZE: a small segment takes little memory
    expect(seg.parts.length).toBeGreaterThan(4);
    expect(seg.parts.slice(0, -1).map((p) => p.length)).toEqual(seg.parts.slice(0, -1).map((_, i) => Math.min(FIRST_CHUNK_SIZE * 2 ** i, SEGMENT_CHUNK_SIZE)));
    expect(seg.length).toBe(whole.length);
    expect(Buffer.concat(seg.parts).equals(Buffer.from(whole))).toBe(true);
    const memory = new Set(seg.parts.map((p) => p.buffer));
    seg.release();
    // the next segment is collected in the same chunks
    const next = await (await build(pool, 3)).finishParts();
    // (its small first chunks come from the free lists it shares with block buffers: any of that size)
    const whole1M = next.parts.filter((p) => p.buffer.byteLength === SEGMENT_CHUNK_SIZE);
    expect(whole1M.length).toBeGreaterThan(0);
    expect(whole1M.filter((p) => memory.has(p.buffer)).length).toBe(whole1M.length);
    expect(Buffer.concat(next.parts).equals(Buffer.from(whole))).toBe(true);
    next.release();
  });

  it('a segment built through the pool decodes to the same records as one built in this thread', async () => {
    const records: ArchiveRecord[] = Array.from({ length: 3000 }, (_, i) => ({
      position: BigInt(i * 2),
      timestamp: 1_700_000_000_000 + i,
      timestampType: null,
      key: i % 7 === 0 ? null : new TextEncoder().encode(`user-${i % 50}`),
      // every 500th record is longer than a block: split over several blocks
      value: new TextEncoder().encode(`{"n":${i},"pad":"${'x'.repeat(i % 500 === 0 ? 70_000 : i % 300)}"}`),
      headers: [{ name: 'content-type', value: new TextEncoder().encode('application/json') }, { name: 'trace', value: null }],
      attributes: null,
    }));
    const viaPool = await buildSegment(records, pool, 3);
    const inThread = await buildSegment(records, zstdCodec, 1);
    // same codec, same level, same blocks: byte for byte the same segment
    expect(Buffer.from(viaPool).equals(Buffer.from(inThread))).toBe(true);
    const back: ArchiveRecord[] = [];
    for await (const r of decodeSegment(viaPool, zstdCodec, 'pool segment')) back.push(r);
    expect(back.length).toBe(records.length);
    for (const [i, r] of back.entries()) {
      expect(r.position).toBe(records[i]!.position);
      expect(Buffer.from(r.value!).equals(Buffer.from(records[i]!.value!))).toBe(true);
      expect(r.key === null ? null : Buffer.from(r.key).toString()).toBe(records[i]!.key === null ? null : Buffer.from(records[i]!.key!).toString());
      expect(r.headers.map((h) => [h.name, h.value === null ? null : Buffer.from(h.value).toString()])).toEqual([
        ['content-type', 'application/json'],
        ['trace', null],
      ]);
    }
  });

  it('seals byte for byte as sealSegmentBlock does, under the nonce and additional data of the block place', async () => {
    expect(pool.sealsBlocks).toBe(true);
    const s = sealingAt('20261205T010000000Z-0a0b0c', MAX_STREAM_INDEX, 2 ** 34 - 1);
    const blocks = [new TextEncoder().encode('{"type":"order.created"} '.repeat(40_000)), randomBytes(700_000), new Uint8Array([7])];
    for (const [k, raw] of blocks.entries()) {
      const i = [0, 1, MAX_BLOCK_INDEX][k]!;
      const h = header(raw, i);
      const r = await pool.compressBlock!(Uint8Array.from(raw), 1, { transfer: true, seal: blockSealJob(s, i, h) });
      const frame = await zstdCodec.compress(raw, 1);
      const want = sealSegmentBlock(s, i, h, frame);
      expect(Buffer.from(r.prefix!).equals(Buffer.from(want.prefix)), `block ${i} prefix`).toBe(true);
      expect(Buffer.from(r.frame).equals(Buffer.from(want.sealed)), `block ${i} sealed`).toBe(true);
      expect(r.rawCrc).toBe(crc32(raw));
      // the nonce and additional data are the block's place (docs/FORMAT.md 9.2), checked from the primitives
      const nonce = blockNonce({ streamIndex: s.streamIndex, segmentSeq: s.segmentSeq, blockIndex: i });
      const aad = blockAad(s.keys.backupId, { streamIndex: s.streamIndex, segmentSeq: s.segmentSeq, blockIndex: i, formatVersion: 3, header: r.prefix! });
      const inner = gcmOpen(s.keys.segment, nonce, aad, r.frame)!;
      expect(inner).not.toBeNull();
      expect(Buffer.from(inner.subarray(24)).equals(Buffer.from(frame))).toBe(true);
      const clear = decodeBlockHeader(r.prefix!, 0, 'test', i, 2);
      const opened = openSegmentBlock(s, i, clear, r.prefix!, r.frame, 'test', `block ${i}`);
      expect(opened.h).toEqual({ ...h, version: 2, compressedLength: r.frame.length, compressedCrc: 0 });
      r.release!();
    }
  });

  it('keeps the keys of different backups apart, each worker given each key once', async () => {
    const a = sealingAt('20261205T010000000Z-aaaaaa', 0, 0);
    const b = sealingAt('20261205T010000000Z-bbbbbb', 0, 0);
    const raw = new TextEncoder().encode('same bytes, same place, other backup '.repeat(2000));
    const jobs = Array.from({ length: 12 }, (_, i) => (i % 2 ? b : a));
    const out = await Promise.all(jobs.map((s, i) => pool.compressBlock!(raw, 1, { transfer: false, seal: blockSealJob(s, i, header(raw, i)) })));
    for (const [i, r] of out.entries()) {
      const s = jobs[i]!;
      const other = s === a ? b : a;
      const clear = decodeBlockHeader(r.prefix!, 0, 'test', i, 2);
      expect(Buffer.from(openSegmentBlock(s, i, clear, r.prefix!, r.frame, 'test', 'b').frame).equals(Buffer.from(await zstdCodec.compress(raw, 1)))).toBe(true);
      expect(() => openSegmentBlock(other, i, clear, r.prefix!, r.frame, 'test', 'b')).toThrow(/failed authentication/);
      r.release!();
    }
  });

  it('a sealed segment built through the pool is byte for byte the one sealed in this thread, and decodes', async () => {
    const s = sealingAt('20261205T010000000Z-123456', 2, 7);
    const records: ArchiveRecord[] = Array.from({ length: 2000 }, (_, i) => ({
      position: BigInt(i), timestamp: 1_700_000_000_000 + i, timestampType: null, key: null,
      value: i % 400 === 0 ? randomBytes(40_000) : new TextEncoder().encode(`{"n":${i},"pad":"${'y'.repeat(i % 200)}"}`), headers: [], attributes: null,
    }));
    const viaPool = await buildSegment(records, pool, 3, s);
    expect(Buffer.from(viaPool).equals(Buffer.from(await buildSegment(records, zstdCodec, 1, s)))).toBe(true);
    let n = 0;
    for await (const r of decodeSegment(viaPool, zstdCodec, 'sealed pool segment', undefined, s)) expect(Buffer.from(r.value!).equals(Buffer.from(records[n++]!.value!))).toBe(true);
    expect(n).toBe(records.length);
  });
});

// verify's codec: one worker decompresses the next block and takes its CRC-32 (verify.ts)
describe.each(IMPLEMENTATIONS)('workerScanCodec, %s', (_name, impl) => {
  let codec: CheckingBlockCodec;
  beforeAll(() => {
    if (impl === 'native' && !haveNative) return;
    setZstdImplementation(impl);
    codec = workerScanCodec();
  });
  afterAll(async () => {
    await codec?.close();
    setZstdImplementation('auto');
  });
  const it = impl === 'native' && !haveNative ? itBase.skip : itBase;

  it('gives the bytes and CRC-32 of each block, and uses a block\'s memory again three calls later', async () => {
    const blocks = Array.from({ length: 7 }, (_, i) => (i === 3 ? randomBytes(1024 * 1024) : new TextEncoder().encode(`block ${i} `.repeat(5000 + 100 * i))));
    const frames = await Promise.all(blocks.map((b) => zstdCodec.compress(b, 1)));
    const raws: Uint8Array[] = [];
    for (const [i, f] of frames.entries()) {
      const { raw, rawCrc } = await codec.decompressBlock(f, blocks[i]!.length);
      expect(Buffer.from(raw).equals(Buffer.from(blocks[i]!))).toBe(true);
      expect(rawCrc).toBe(crc32(blocks[i]!));
      raws.push(raw);
      // the block of three calls ago went to the worker again (moved: empty here); the two since are intact
      if (i >= 3) expect(raws[i - 3]!.byteLength).toBe(0);
      for (const j of [i - 2, i - 1].filter((j) => j >= 0)) expect(Buffer.from(raws[j]!).equals(Buffer.from(blocks[j]!))).toBe(true);
    }
    // the caller's frame stays as it was (the worker got a copy)
    expect(Buffer.from(await zstdCodec.decompress(frames[0]!, blocks[0]!.length)).equals(Buffer.from(blocks[0]!))).toBe(true);
  });

  it('a damaged frame, or one of another length than the header says, fails with zstdCodec\'s own error, and the codec keeps working', async () => {
    const raw = new TextEncoder().encode('abc'.repeat(10_000));
    const f = await zstdCodec.compress(raw, 3);
    const bad = Uint8Array.from(f);
    bad[bad.length - 3] = bad[bad.length - 3]! ^ 0xff;
    for (const [frame, length] of [[bad, raw.length], [f, raw.length - 1], [f, raw.length + 1], [f, 3 * 1024 * 1024]] as const) {
      const want = await zstdCodec.decompress(frame, length).then(() => 'no error', (e: Error) => e.message);
      expect(want).not.toBe('no error');
      await expect(codec.decompressBlock(frame, length)).rejects.toMatchObject({ code: 'integrity', message: want });
    }
    expect((await codec.decompress(f, raw.length)).length).toBe(raw.length);
  });

  it('the reader checks each block against the CRC-32 the worker took', async () => {
    const records: ArchiveRecord[] = Array.from({ length: 500 }, (_, i) => ({
      position: BigInt(i), timestamp: null, timestampType: null, key: null, value: new TextEncoder().encode(`{"n":${i},"pad":"${'z'.repeat(i % 300)}"}`), headers: [], attributes: null,
    }));
    const seg = await buildSegment(records, zstdCodec, 1);
    let n = 0;
    for await (const b of scanSegment(seg, codec, 'good')) n += b.count;
    expect(n).toBe(records.length);
    // a worker whose CRC-32 is off by a bit: the block fails as if its bytes were
    const lying: BlockCodec = { ...codec, decompressBlock: async (frame, rawLength) => {
      const r = await codec.decompressBlock(frame, rawLength);
      return { raw: r.raw, rawCrc: r.rawCrc ^ 1 };
    } };
    await expect(scanSegment(seg, lying, 'lying').next()).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/block 0 at byte \d+: raw data checksum mismatch/) as unknown });
  });
});
