import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { zstdCodec } from '../../src/archive/codec.js';
import { createZstdPool } from '../../src/archive/zstd-pool.js';

describe('zstd worker pool', () => {
  const pool = createZstdPool({ size: 2 });
  afterAll(() => pool.close());

  it('compresses to the same bytes as zstd in this thread, and back', async () => {
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
});
