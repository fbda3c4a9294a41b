/**
 * segment-reader.ts: with the manifest's entry (`expected`), a segment's record count and first
 * and last positions are checked before the first block's records are handed out
 * (docs/FORMAT.md section 7, item 4), not after earlier blocks went on.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { recyclingZstdCodec, zstdCodec } from '../../../src/archive/codec.js';
import { decodeSegmentColumns, decodeSegmentObjects, scanSegment } from '../../../src/archive/segment-reader.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/store-v2/', import.meta.url));
// payments[0] of the full backup: 3 records at positions 3..9 over several 1 KiB blocks
const SEG = 'segments/20261125T010000000Z-a1b2c3/0002/0000000000.seg';
const RIGHT = { records: 3, firstPosition: 3n, lastPosition: 9n };

async function bytes(): Promise<Uint8Array> {
  return new Uint8Array(await readFile(`${FIXTURE}${SEG}`));
}

describe('decodeSegmentColumns / decodeSegmentObjects with the manifest entry', () => {
  it('hands out every block when the entry matches', async () => {
    const positions: number[] = [];
    for await (const b of decodeSegmentColumns(await bytes(), zstdCodec, `segment ${SEG}`, undefined, null, RIGHT)) {
      for (let i = 0; i < b.count; i++) positions.push(b.records.position[i]!);
    }
    expect(positions).toEqual([3, 6, 9]);
  });

  for (const [what, expected, message] of [
    ['a record count', { ...RIGHT, records: 4 }, /its blocks hold 3 records, manifest says 4/],
    ['a last position', { ...RIGHT, lastPosition: 10n }, /its blocks hold positions 3\.\.9, manifest says 3\.\.10/],
    ['a first position', { ...RIGHT, firstPosition: 2n }, /its blocks hold positions 3\.\.9, manifest says 2\.\.9/],
  ] as const) {
    it(`${what} that differs fails before the first block is handed out`, async () => {
      for (const decode of [decodeSegmentColumns, decodeSegmentObjects]) {
        const it = decode(await bytes(), zstdCodec, `segment ${SEG}`, undefined, null, expected);
        await expect(it.next()).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(message) as unknown });
      }
    });
  }

  it('a block that does not frame (truncated segment) fails before the first block is handed out', async () => {
    const b = await bytes();
    const it = decodeSegmentColumns(b.subarray(0, b.length - 10), zstdCodec, `segment ${SEG}`, undefined, null, RIGHT);
    await expect(it.next()).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/runs past the end of the segment/) as unknown });
  });
});

/** Each block's count, first and last positions and timestamps, and the error that ended the segment, if any. */
async function blocksOf(it: AsyncGenerator<{ count: number; firstPosition: bigint; lastPosition: bigint; firstTimestamp: number | null; lastTimestamp: number | null }>): Promise<unknown[]> {
  const out: unknown[] = [];
  try {
    for await (const { count, firstPosition, lastPosition, firstTimestamp, lastTimestamp } of it) out.push({ count, firstPosition, lastPosition, firstTimestamp, lastTimestamp });
  } catch (e) {
    out.push({ error: (e as Error).message });
  }
  return out;
}

describe('scanSegment (what verify reads with)', () => {
  it('finds the blocks, and every damage, that decodeSegmentObjects finds: every seventh byte of the golden segments flipped in turn', async () => {
    const segments = (await readdir(`${FIXTURE}segments`, { recursive: true })).filter((f) => f.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(5);
    let damaged = 0;
    const codec = recyclingZstdCodec();
    for (const f of segments) {
      const good = new Uint8Array(await readFile(`${FIXTURE}segments/${f}`));
      const ctx = `segment ${f}`;
      const expected = await blocksOf(decodeSegmentObjects(good, zstdCodec, ctx));
      expect(expected.some((b) => 'error' in (b as object))).toBe(false);
      expect(await blocksOf(scanSegment(good, codec, ctx))).toEqual(expected);
      for (let at = f.length % 7; at < good.length; at += 7) {
        const b = Uint8Array.from(good);
        b[at]! ^= 0x10;
        const want = await blocksOf(decodeSegmentObjects(b, zstdCodec, ctx));
        if ('error' in (want.at(-1) as object)) damaged++;
        expect(await blocksOf(scanSegment(b, codec, ctx)), `${f}, byte ${at}`).toEqual(want);
      }
    }
    expect(damaged).toBeGreaterThan(500);
  }, 60_000);
});
