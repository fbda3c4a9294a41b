import { describe, expect, it } from 'vitest';
import { BatchBuffers } from '../../../../src/brokers/kafka/batch-buffers.js';

describe('BatchBuffers', () => {
  it('gives the memory of an answered request to the next one of a pooled size', () => {
    const pool = new BatchBuffers();
    const a = pool.take(900_000);
    expect(a.length).toBe(900_000);
    expect(a.buffer.byteLength).toBe(BatchBuffers.SIZE);
    expect(a.byteOffset).toBe(0);
    pool.give(a);
    expect(pool.kept).toBe(1);
    const b = pool.take(BatchBuffers.SIZE);
    expect(b.buffer).toBe(a.buffer);
    expect(pool.kept).toBe(0);
    // a second take while the first is out: other memory
    const c = pool.take(BatchBuffers.MIN);
    expect(c.buffer).not.toBe(b.buffer);
  });

  it('gives small and large requests memory of their own, never kept', () => {
    const pool = new BatchBuffers();
    for (const n of [0, 100, BatchBuffers.MIN - 1, BatchBuffers.SIZE + 1, 3 * BatchBuffers.SIZE]) {
      const b = pool.take(n);
      expect(b.length).toBe(n);
      // its own ArrayBuffer (it moves to the checksum worker), not a slice of Buffer's shared pool
      expect(b.buffer.byteLength).toBe(n);
      pool.give(b);
    }
    // nor a Buffer that only happens to be a slice of something else
    pool.give(Buffer.from(new ArrayBuffer(BatchBuffers.SIZE), 16, 1000));
    expect(pool.kept).toBe(0);
  });

  it('keeps at most `max` buffers, each once', () => {
    const pool = new BatchBuffers(2);
    const taken = [pool.take(500_000), pool.take(500_000), pool.take(500_000)];
    for (const b of taken) pool.give(b);
    expect(pool.kept).toBe(2);
    pool.give(taken[0]!);
    pool.give(taken[0]!);
    expect(pool.kept).toBe(2);
    const again = [pool.take(500_000), pool.take(500_000)];
    expect(again[0]!.buffer).not.toBe(again[1]!.buffer);
  });
});
