// recyclingZstdCodec (verify's): the bytes and the errors zstdCodec gives, with a block's bytes
// kept until `depth` more blocks have been decompressed. pooledZstdCodec (the restore's): the same
// bytes and errors, a block's memory used again only once released.
import { describe, expect, it } from 'vitest';
import { MAX_BLOCK_SIZE, pooledZstdCodec, recyclingZstdCodec, zstdCodec, zstdImplementation } from '../../../src/archive/codec.js';

function block(seed: number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    // compressible, not constant
    b[i] = i % 17 === 0 ? x >>> 24 : 0x61 + (i % 23);
  }
  return b;
}

async function outcome(p: Promise<Uint8Array>): Promise<{ bytes: string } | { error: string; code: unknown }> {
  try {
    return { bytes: Buffer.from(await p).toString('base64') };
  } catch (e) {
    return { error: (e as Error).message, code: (e as { code?: unknown }).code };
  }
}

describe('recyclingZstdCodec', () => {
  it('gives the bytes zstdCodec gives, each block intact until depth more blocks were decompressed', async () => {
    const codec = recyclingZstdCodec(3);
    const raws = [1, 2, 3, 4, 5, 6, 7].map((s) => block(s, s * 1000 + 1));
    raws.push(block(8, 2 * 1024 * 1024), block(9, 17)); // larger than a buffer's first size, then tiny again
    const frames = await Promise.all(raws.map((r) => zstdCodec.compress(r, 1)));
    const out: Uint8Array[] = [];
    for (let i = 0; i < frames.length; i++) {
      out.push(await codec.decompress(frames[i]!, raws[i]!.length));
      // the two before it are still what they were
      for (let k = Math.max(0, i - 2); k <= i; k++) expect(Buffer.from(out[k]!).equals(Buffer.from(raws[k]!)), `block ${k} after ${i}`).toBe(true);
    }
  });

  it('refuses what zstdCodec refuses, in its words: wrong raw lengths, cut, damaged and foreign frames', async () => {
    const raw = block(1, 5000);
    const frame = await zstdCodec.compress(raw, 1);
    const flipped = Uint8Array.from(frame);
    flipped[frame.length >> 1]! ^= 0xff;
    const cases: Array<[string, Uint8Array, number]> = [
      ['the right length', frame, raw.length],
      ['a raw length too small', frame, raw.length - 1],
      ['a raw length too large', frame, raw.length + 1],
      ['a zero raw length', frame, 0],
      ['a raw length above MAX_BLOCK_SIZE', frame, MAX_BLOCK_SIZE + 1],
      ['a cut frame', frame.subarray(0, frame.length - 3), raw.length],
      ['a damaged frame', flipped, raw.length],
      ['no frame', new TextEncoder().encode('not zstd at all'), raw.length],
      ['two frames', Buffer.concat([frame, frame]), raw.length],
      ['two frames, both counted', Buffer.concat([frame, frame]), 2 * raw.length],
    ];
    for (const codec of [recyclingZstdCodec(), pooledZstdCodec()]) {
      let refused = 0;
      for (const [what, f, n] of cases) {
        const want = await outcome(zstdCodec.decompress(f, n));
        if ('error' in want) refused++;
        expect(await outcome(codec.decompress(f, n)), what).toEqual(want);
      }
      expect(refused).toBeGreaterThanOrEqual(6);
    }
  });
});

describe('pooledZstdCodec', () => {
  it('keeps every block it handed out intact until it is released, then decompresses into its memory', async () => {
    const codec = pooledZstdCodec(4);
    const raws = [1, 2, 3, 4, 5, 6, 7, 8].map((s) => block(s, s * 30_000 + 1));
    raws.push(block(9, 2 * 1024 * 1024), block(10, 17)); // larger than a pooled buffer's first size, then tiny again
    const frames = await Promise.all(raws.map((r) => zstdCodec.compress(r, 1)));
    const held: Array<{ i: number; out: Uint8Array }> = [];
    const memory = new Set<ArrayBufferLike>();
    for (let i = 0; i < frames.length; i++) {
      const out = await codec.decompress(frames[i]!, raws[i]!.length);
      memory.add(out.buffer);
      held.push({ i, out });
      // every block not released yet is still what it was
      for (const h of held) expect(Buffer.from(h.out).equals(Buffer.from(raws[h.i]!)), `block ${h.i} after ${i}`).toBe(true);
      // the restore's pattern: two blocks out at a time, the oldest released
      if (held.length > 2) codec.release(held.shift()!.out);
    }
    if (zstdImplementation() === 'native') {
      // the memory went round: fewer buffers than blocks
      expect(memory.size).toBeLessThan(frames.length);
      expect(codec.kept).toBeGreaterThan(0);
    }
  });

  it('ignores memory it did not hand out, a second release and releases past its limit', async () => {
    const codec = pooledZstdCodec(2);
    codec.release(new Uint8Array(1024 * 1024));
    codec.release(Buffer.allocUnsafeSlow(1024 * 1024));
    expect(codec.kept).toBe(0);
    const raw = block(3, 70_000);
    const frame = await zstdCodec.compress(raw, 1);
    const outs = [];
    for (let i = 0; i < 4; i++) outs.push(await codec.decompress(frame, raw.length));
    if (zstdImplementation() !== 'native') return; // zstd-codec: nothing is pooled
    codec.release(outs[0]!);
    codec.release(outs[0]!);
    expect(codec.kept).toBe(1);
    for (const o of outs.slice(1)) codec.release(o);
    expect(codec.kept).toBe(2);
    // the memory handed back is used again, and holds the new block
    const again = await codec.decompress(await zstdCodec.compress(block(4, 50_000), 1), 50_000);
    expect([outs[0]!.buffer, outs[1]!.buffer]).toContain(again.buffer);
    expect(Buffer.from(again).equals(Buffer.from(block(4, 50_000)))).toBe(true);
    expect(codec.kept).toBe(1);
  });
});
