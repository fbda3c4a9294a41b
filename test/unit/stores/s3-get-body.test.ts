import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readGetBody, type GetBody } from '../../../src/stores/s3-get-body.js';

const bytes = new Uint8Array(100_000).map((_, i) => (i * 7) % 251);

/** A Node stream with the SDK's mixin, giving `data` in chunks of `size` bytes. */
function nodeBody(data: Uint8Array, size: number): GetBody & Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) chunks.push(Buffer.from(data.subarray(at, at + size)));
  const stream = Readable.from(chunks);
  return Object.assign(stream, { transformToByteArray: () => Promise.reject(new Error('the collector is not used for a Node stream')) });
}

describe('readGetBody', () => {
  it('copies a Node stream chunk by chunk into one buffer of the stated length', async () => {
    const out = await readGetBody(nodeBody(bytes, 16_384), bytes.length, 'S', 'k');
    expect(out).toEqual(bytes);
    // its own buffer, exactly the object's size (no pooled slab behind it)
    expect(out.buffer.byteLength).toBe(bytes.length);
    expect(await readGetBody(nodeBody(new Uint8Array(0), 1), 0, 'S', 'k')).toEqual(new Uint8Array(0));
  });

  it('refuses a body shorter or longer than the stated length, retriably', async () => {
    await expect(readGetBody(nodeBody(bytes.subarray(0, 99_000), 16_384), bytes.length, 'S', 'k')).rejects.toMatchObject({
      code: 'integrity',
      retriable: true,
      message: 'S: read 99000 of 100000 bytes of k',
    });
    await expect(readGetBody(nodeBody(bytes, 16_384), 50_000, 'S', 'k')).rejects.toMatchObject({
      code: 'integrity',
      retriable: true,
      message: 'S: the server sent more than the 50000 bytes it stated of k',
    });
  });

  it("uses the SDK's collector for another body or without a stated length, and checks the length then too", async () => {
    const other: GetBody = { transformToByteArray: async () => bytes.slice() };
    expect(await readGetBody(other, bytes.length, 'S', 'k')).toEqual(bytes);
    expect(await readGetBody(other, undefined, 'S', 'k')).toEqual(bytes);
    await expect(readGetBody(other, 7, 'S', 'k')).rejects.toMatchObject({ code: 'integrity', message: 'S: read 100000 of 7 bytes of k' });
    const stream = Object.assign(Readable.from([Buffer.from(bytes)]), { transformToByteArray: async () => bytes.slice(0, 10) });
    expect(await readGetBody(stream, undefined, 'S', 'k')).toEqual(bytes.slice(0, 10));
  });
});
