/**
 * segment-reader.ts, sealed segments (format 3): when each block is opened. Read with the
 * manifest's entry (a restore), every block is opened before the first is decompressed: the
 * counts and positions compared with the entry are inside the sealed bytes. Scanned (verify, a
 * restore's preflight), each block is opened just before it is decompressed, one block ahead of
 * the scan, so that decompression starts without waiting for the whole segment's decryption;
 * a block that does not open is still reported in its turn, after the blocks before it.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { zstdCodec, type BlockCodec } from '../../../src/archive/codec.js';
import { decodeSegmentColumns, decodeSegmentObjects, scanSegment } from '../../../src/archive/segment-reader.js';
import { BLOCK_PREFIX_SIZE, checkSegmentHeader, decodeBlockHeader, SEALED_SEGMENT_VERSION } from '../../../src/archive/segment-framing.js';
import { segmentSealing } from '../../../src/archive/encryption/store-key.js';
import { unlockStore } from '../../../src/core/store-keys.js';
import { LocalStore } from '../../../src/stores/local.js';
import { ENCRYPTED_FIXTURE, ENCRYPTED_FIXTURE_STORE } from '../../../scripts/make-fixtures.js';

const events: string[] = [];

vi.mock('../../../src/archive/segment-sealing.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../../src/archive/segment-sealing.js')>();
  return {
    ...original,
    openSegmentBlock: (...args: Parameters<typeof original.openSegmentBlock>) => {
      events.push(`open ${args[1]}`);
      return original.openSegmentBlock(...args);
    },
  };
});

const STORE = fileURLToPath(new URL(`../../../fixtures/${ENCRYPTED_FIXTURE_STORE}/`, import.meta.url));
// the last segment of the third backup's first stream: several blocks
const SEG = 'segments/20261125T030000000Z-0a0b0c/0000/0000000002.seg';

const codec: BlockCodec = {
  compress: (raw, level) => zstdCodec.compress(raw, level),
  decompress: (frame, rawLength) => {
    events.push('decompress');
    return zstdCodec.decompress(frame, rawLength);
  },
};

async function sealed(): Promise<{ bytes: Uint8Array; sealing: ReturnType<typeof segmentSealing> }> {
  const u = await unlockStore(new LocalStore(STORE), Buffer.from(ENCRYPTED_FIXTURE.password));
  return { bytes: new Uint8Array(await readFile(join(STORE, SEG))), sealing: segmentSealing(u.masterKey, SEG) };
}

/** Byte offsets of each block's sealed bytes (after its clear header frame). */
function blockStarts(bytes: Uint8Array): number[] {
  const { at: first, version } = checkSegmentHeader(bytes, 'x');
  expect(version).toBe(SEALED_SEGMENT_VERSION);
  const starts: number[] = [];
  for (let at = first, i = 0; at < bytes.length; i++) {
    const h = decodeBlockHeader(bytes, at, 'x', i, version);
    starts.push(at + BLOCK_PREFIX_SIZE);
    at += BLOCK_PREFIX_SIZE + h.compressedLength;
  }
  return starts;
}

beforeEach(() => {
  events.length = 0;
});

describe('sealed segments: when blocks are opened', () => {
  it('the fixture segment has several blocks', async () => {
    expect(blockStarts((await sealed()).bytes).length).toBeGreaterThanOrEqual(2);
  });

  it('scanSegment opens each block just before it is decompressed, one ahead of the scan', async () => {
    const { bytes, sealing } = await sealed();
    const n = blockStarts(bytes).length;
    let records = 0;
    for await (const b of scanSegment(bytes, codec, `segment ${SEG}`, undefined, sealing)) records += b.count;
    expect(records).toBeGreaterThan(0);
    expect(events).toEqual(Array.from({ length: n }, (_, i) => [`open ${i}`, 'decompress']).flat());
  });

  it('with the manifest entry, every block is opened before the first is decompressed', async () => {
    const { bytes, sealing } = await sealed();
    const n = blockStarts(bytes).length;
    // the entry the blocks add up to, from a first read
    let records = 0;
    let first: bigint | null = null;
    let last = 0n;
    for await (const b of decodeSegmentObjects(bytes, zstdCodec, 'x', undefined, sealing)) {
      if (b.count === 0) continue;
      records += b.count;
      first ??= b.firstPosition;
      last = b.lastPosition;
    }
    events.length = 0;
    const expected = { records, firstPosition: first!, lastPosition: last };
    for await (const _ of decodeSegmentColumns(bytes, codec, 'x', undefined, sealing, expected)) {
      // drained
    }
    expect(events).toEqual([...Array.from({ length: n }, (_, i) => `open ${i}`), ...Array.from({ length: n }, () => 'decompress')]);
  });

  it('scanSegment reports a block that does not open in its turn, after the blocks before it, and reads nothing after it', async () => {
    const { bytes, sealing } = await sealed();
    const starts = blockStarts(bytes);
    const damaged = Uint8Array.from(bytes);
    damaged[starts[1]! + 3]! ^= 0x01;
    const handedOut: number[] = [];
    const scan = async () => {
      for await (const b of scanSegment(damaged, codec, `segment ${SEG}`, undefined, sealing)) handedOut.push(b.count);
    };
    await expect(scan()).rejects.toThrow(new RegExp(`^segment ${SEG}: block 1 at byte \\d+: block 1 \\(stream 0, segment 2\\) of backup 20261125T030000000Z-0a0b0c failed authentication`));
    expect(handedOut).toHaveLength(1);
    expect(events).toEqual(['open 0', 'decompress', 'open 1']);
  });
});
