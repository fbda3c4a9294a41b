import { describe, expect, it } from 'vitest';
import { blockCapacity, ChunkedBytes, FIRST_CHUNK_SIZE, SEGMENT_CHUNK_SIZE, freeBlockBytes, giveBlock, MAX_FREE_BLOCK_BYTES, takeBlock } from '../../../src/archive/buffer-pools.js';

describe('block buffers', () => {
  it('sizes a buffer to the next power of two, at most the block size', () => {
    expect(blockCapacity(1, 1024 * 1024)).toBe(4096);
    expect(blockCapacity(5000, 1024 * 1024)).toBe(8192);
    expect(blockCapacity(700_000, 1024 * 1024)).toBe(1024 * 1024);
    expect(blockCapacity(1024 * 1024, 1024 * 1024)).toBe(1024 * 1024);
    expect(blockCapacity(300_000, 300_000)).toBe(300_000);
  });

  it('reuses a buffer handed back, and keeps at most MAX_FREE_BLOCK_BYTES of them', () => {
    const size = 3 * 4096 * 1024; // a size no other test uses
    const a = takeBlock(size);
    giveBlock(a);
    expect(takeBlock(size)).toBe(a);
    const before = freeBlockBytes();
    const many = Array.from({ length: Math.ceil(MAX_FREE_BLOCK_BYTES / size) + 2 }, () => takeBlock(size));
    for (const b of many) giveBlock(b);
    expect(freeBlockBytes()).toBeLessThanOrEqual(MAX_FREE_BLOCK_BYTES);
    expect(freeBlockBytes()).toBeGreaterThan(before);
  });

  it("collects a segment's bytes in chunks that start small and double", () => {
    const c = new ChunkedBytes();
    c.append(new Uint8Array(100).fill(7));
    let s = c.take();
    expect(s.parts.map((p) => p.length)).toEqual([100]);
    expect(s.parts[0]!.buffer.byteLength).toBeLessThanOrEqual(FIRST_CHUNK_SIZE);
    s.release();
    const d = new ChunkedBytes();
    const data = new Uint8Array(FIRST_CHUNK_SIZE * 3 + 10).map((_, i) => i & 255);
    d.append(data);
    s = d.take();
    expect(s.parts.map((p) => p.length)).toEqual([FIRST_CHUNK_SIZE, FIRST_CHUNK_SIZE * 2, 10]);
    expect(Buffer.concat(s.parts).equals(Buffer.from(data))).toBe(true);
    s.release();
  });

  it('keeps whole chunks past the 17th (a segment of 40 MiB), where a doubling by shift would overflow 32 bits', () => {
    const c = new ChunkedBytes();
    const piece = new Uint8Array(1024 * 1024 + 3).map((_, i) => (i * 7) & 255);
    for (let i = 0; i < 40; i++) c.append(piece);
    const s = c.take();
    const sizes = s.parts.map((p) => p.length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(40 * piece.length);
    // after the small first chunks, every chunk but the last is a whole SEGMENT_CHUNK_SIZE
    expect(sizes.slice(6, -1).every((n) => n === SEGMENT_CHUNK_SIZE)).toBe(true);
    expect(Buffer.concat(s.parts).equals(Buffer.concat(Array.from({ length: 40 }, () => piece)))).toBe(true);
    s.release();
  });
});
