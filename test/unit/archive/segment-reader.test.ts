/**
 * segment-reader.ts: with the manifest's entry (`expected`), a segment's record count and first
 * and last positions are checked before the first block's records are handed out
 * (docs/FORMAT.md section 7, item 4), not after earlier blocks went on.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { recyclingZstdCodec, wasmZstdCodec, zstdCodec, type BlockCodec } from '../../../src/archive/codec.js';
import { workerScanCodec } from '../../../src/archive/zstd-pool.js';
import { decodeSegmentColumns, decodeSegmentObjects, scanSegment } from '../../../src/archive/segment-reader.js';
import { SegmentBuilder } from '../../../src/archive/segment-builder.js';
import { encodeRecord } from '../../../src/archive/record-encoder.js';
import { decodeRecordColumns } from '../../../src/archive/record-decoder.js';
import { ColumnsBuilder, type JsonValue } from '../../../src/common/record.js';
import { utf8NameChecker } from '../../../src/common/utf8-names.js';

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

describe.each([
  ['recyclingZstdCodec', recyclingZstdCodec],
  ['workerScanCodec (a worker decompresses and takes the CRC-32)', workerScanCodec],
])('scanSegment (what verify reads with), through %s', (_name, makeCodec) => {
  it('finds the blocks, and every damage, that decodeSegmentObjects finds: every seventh byte of the golden segments flipped in turn', async () => {
    const segments = (await readdir(`${FIXTURE}segments`, { recursive: true })).filter((f) => f.endsWith('.seg'));
    expect(segments.length).toBeGreaterThan(5);
    let damaged = 0;
    const codec: BlockCodec & { close?: () => Promise<void> } = makeCodec();
    onTestFinished(() => codec.close?.());
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

describe('scanSegment: attributes parts checked against the one before', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  const amqp = (i: number) =>
    `{"exchange":"","properties":{"deliveryMode":2,"headers":[{"name":"traceparent","value":{"type":"string","value":"00-${(i * 7919).toString(16)}-01"}}],` +
    `"messageId":"msg-${i}","timestamp":${1764000000 + i}},"redelivered":false,"routingKey":"jobs"}`;
  /** A segment of 400 records alike (blocks of 4 KiB), the bytes of record 350's attributes changed by `damage` after they were encoded. */
  async function segment(damage: (attributes: Uint8Array) => void): Promise<Uint8Array> {
    const records = Array.from({ length: 400 }, (_, i) => encodeRecord({ position: BigInt(i), timestamp: null, timestampType: null, key: null, value: enc(`v${i}`), headers: [], attributes: JSON.parse(amqp(i)) as JsonValue }));
    const buf = Uint8Array.from(Buffer.concat(records));
    const cols = new ColumnsBuilder(1, 1);
    decodeRecordColumns(buf, 0, new DataView(buf.buffer), cols, utf8NameChecker());
    const c = cols.finish(buf);
    damage(buf.subarray(c.attributeStart[350]!, c.attributeStart[350]! + c.attributeLength[350]!));
    const b = new SegmentBuilder(wasmZstdCodec, 3, 4096);
    for (let i = 0; i < c.count; i++) b.addColumnNow(c, i);
    return b.finish();
  }
  const at = (a: Uint8Array, s: string) => Buffer.from(a).indexOf(s);

  for (const [what, damage] of [
    ['a control character inside a string', (a: Uint8Array) => (a[at(a, 'msg-350') + 4] = 0x01)],
    ['a bad escape inside a string', (a: Uint8Array) => a.set(enc('\\x'), at(a, 'msg-350') + 4)],
    ['bytes TextDecoder refuses inside a string', (a: Uint8Array) => (a[at(a, 'msg-350') + 4] = 0xff)],
    ['a letter inside a number', (a: Uint8Array) => (a[at(a, '1764000350') + 3] = 0x78)],
    ['a literal misspelt', (a: Uint8Array) => (a[at(a, 'false') + 4] = 0x79)],
    ['a string left open', (a: Uint8Array) => (a[at(a, '"jobs"') + 5] = 0x20)],
  ] as const) {
    it(`finds ${what}, with the message the record decoder gives`, async () => {
      const bytes = await segment(damage);
      const scanned = await blocksOf(scanSegment(bytes, zstdCodec, 'segment s'));
      const error = (scanned.at(-1) as { error?: string }).error;
      expect(error).toMatch(/^segment s: block \d+ at byte \d+: record 350: attributes: /);
      expect(scanned).toEqual(await blocksOf(decodeSegmentObjects(bytes, zstdCodec, 'segment s')));
    });
  }

  it('reads the same segment undamaged to its end', async () => {
    const scanned = await blocksOf(scanSegment(await segment(() => {}), zstdCodec, 'segment s'));
    expect(scanned.reduce((n: number, b) => n + ((b as { count?: number }).count ?? 0), 0)).toBe(400);
    expect(scanned.some((b) => 'error' in (b as object))).toBe(false);
  });
});
