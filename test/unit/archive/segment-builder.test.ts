// A segment built by SegmentBuilder reads back through segment-reader.ts with the block layout
// docs/FORMAT.md section 4 describes: blocks cut at records, a long record split over blocks.
import { describe, expect, it } from 'vitest';
import { wasmZstdCodec } from '../../../src/archive/codec.js';
import { encodeRecord } from '../../../src/archive/record-encoder.js';
import { SegmentBuilder } from '../../../src/archive/segment-builder.js';
import { BLOCK_PREFIX_SIZE, checkSegmentHeader, decodeBlockHeader, FLAG_CONTINUES } from '../../../src/archive/segment-framing.js';
import { decodeSegment, decodeSegmentColumns, decodeSegmentObjects } from '../../../src/archive/segment-reader.js';
import { columnRecord, columnsOf, type ArchiveRecord } from '../../../src/common/record.js';
import { pseudoRandomBytes } from '../../helpers/random.js';

const rec = (position: bigint, size: number, attributes: ArchiveRecord['attributes'] = null): ArchiveRecord => ({
  position,
  timestamp: Number(position) * 10,
  timestampType: 'create',
  key: null,
  value: pseudoRandomBytes(size, Number(position) + 1),
  headers: [{ name: 'h', value: null }],
  attributes,
});

async function build(records: ArchiveRecord[], blockSize = 1024): Promise<Uint8Array> {
  const b = new SegmentBuilder(wasmZstdCodec, 3, blockSize);
  for (const r of records) await b.add(r);
  return b.finish();
}

/** The block headers of a segment, in order. */
function blocks(seg: Uint8Array) {
  const out = [];
  let { at } = checkSegmentHeader(seg, 't');
  for (let i = 0; at < seg.length; i++) {
    const h = decodeBlockHeader(seg, at, 't', i);
    out.push(h);
    at += BLOCK_PREFIX_SIZE + h.compressedLength;
  }
  return out;
}

describe('SegmentBuilder and the segment reader', () => {
  it('cut blocks at records and split a record longer than a block over several, flagged as continuing', async () => {
    const records = [rec(1n, 100), rec(2n, 100), rec(5n, 2500, { any: ['json', 1] }), rec(6n, 10)];
    const seg = await build(records);
    const hs = blocks(seg);
    // the 2500-byte record takes three blocks; the first two end no record
    expect(hs.map((h) => [h.records, h.flags & FLAG_CONTINUES])).toEqual([
      [2, 0],
      [0, 0],
      [0, 1],
      [2, 1],
    ]);
    expect(hs.reduce((n, h) => n + h.rawLength, 0)).toBe(records.reduce((n, r) => n + encodeRecord(r).length, 0));
    const got: ArchiveRecord[] = [];
    for await (const r of decodeSegment(seg, wasmZstdCodec, 't')) got.push(r);
    expect(got).toEqual(records);
  });

  it('gives the same records as objects and as columns, with positions and timestamps per block', async () => {
    const records = Array.from({ length: 60 }, (_, i) => rec(BigInt(i * 2), 50 + i));
    const seg = await build(records);
    const objects = [];
    for await (const b of decodeSegmentObjects(seg, wasmZstdCodec, 't')) {
      if (b.count > 0) expect([b.firstPosition, b.lastPosition]).toEqual([b.records[0]!.position, b.records[b.count - 1]!.position]);
      objects.push(...b.records);
    }
    const columns = [];
    for await (const b of decodeSegmentColumns(seg, wasmZstdCodec, 't')) for (let i = 0; i < b.count; i++) columns.push(columnRecord(b.records, i));
    expect(objects).toEqual(records);
    expect(columns).toEqual(records);
  });

  it('refuses a segment cut inside its last block, naming the segment', async () => {
    const seg = await build([rec(1n, 500), rec(2n, 500), rec(3n, 500)]);
    const read = async (bytes: Uint8Array) => {
      for await (const _ of decodeSegment(bytes, wasmZstdCodec, 'segment s')) void _;
    };
    await expect(read(seg.subarray(0, seg.length - 5))).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/^segment s: /) });
    await expect(read(seg)).resolves.toBeUndefined();
  });

  it('an empty builder holds no bytes and still finishes as a segment header alone', async () => {
    const b = new SegmentBuilder(wasmZstdCodec, 3, 1024);
    expect(b.memory).toBe(0);
    const seg = await b.finish();
    expect(b.segmentBytes).toBeGreaterThan(0);
    expect(checkSegmentHeader(seg, 't').at).toBe(seg.length);
  });
  it('addColumnsNow adds records in runs that end where a block was cut or the segment is full, with the bytes of addColumnNow', async () => {
    const records = Array.from({ length: 120 }, (_, i) => rec(BigInt(i * 3), 40 + ((i * 37) % 300)));
    const cols = columnsOf(records);
    const one = new SegmentBuilder(wasmZstdCodec, 3, 1024);
    let sizes = 0;
    for (let i = 0; i < cols.count; i++) sizes += one.addColumnNow(cols, i);
    const runs = new SegmentBuilder(wasmZstdCodec, 3, 1024);
    const internals = runs as unknown as { parts: unknown[] };
    const limit = 20_000;
    const ends: number[] = [];
    let added = 0;
    for (let i = 0; i < cols.count; ) {
      const blocks = internals.parts.length;
      const before = runs.rawBytes;
      const next = runs.addColumnsNow(cols, i, cols.count, limit);
      expect(next).toBeGreaterThan(i);
      // a run ends at a cut block, at the limit, or at the end; never before
      const cut = internals.parts.length !== blocks;
      expect(cut || runs.rawBytes >= limit || next === cols.count).toBe(true);
      // records shorter than a block: the run's last record cut one block at most
      expect(internals.parts.length - blocks).toBeLessThanOrEqual(1);
      ends.push(next);
      added += runs.rawBytes - before;
      i = next;
    }
    expect(ends.length).toBeGreaterThan(10);
    expect(added).toBe(sizes);
    expect([runs.records, runs.firstPosition, runs.lastPosition]).toEqual([120, 0n, 357n]);
    expect(Buffer.from(await runs.finish()).equals(Buffer.from(await one.finish()))).toBe(true);
  });
});
