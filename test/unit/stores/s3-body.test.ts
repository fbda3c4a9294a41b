import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PartsBody, sameBytes } from '../../../src/stores/s3-body.js';
import { pseudoRandomBytes } from '../../helpers/random.js';

/** Chunks of their own memory each, as a segment builder hands them over. */
function chunks(sizes: number[]): Uint8Array[] {
  return sizes.map((n, i) => pseudoRandomBytes(n, i + 1));
}

async function streamed(body: PartsBody): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of body.stream()) out.push(c as Buffer);
  return out;
}

describe('PartsBody', () => {
  const parts = chunks([1000, 0, 1, 2500, 77]);
  const joined = Buffer.concat(parts);

  it('has the length of its parts, and one buffer is one part', () => {
    expect(new PartsBody(parts).length).toBe(3578);
    expect(new PartsBody(joined).parts).toEqual([joined]);
    expect(new PartsBody([]).length).toBe(0);
  });

  it('streams views of the parts themselves, in order, skipping empty ones, and a new stream each time', async () => {
    const body = new PartsBody(parts);
    for (let round = 0; round < 2; round++) {
      const out = await streamed(body);
      expect(out.length).toBe(4);
      expect(Buffer.concat(out).equals(joined)).toBe(true);
      // the same memory: nothing was copied
      expect(out.map((c) => c.buffer)).toEqual([parts[0]!.buffer, parts[2]!.buffer, parts[3]!.buffer, parts[4]!.buffer]);
    }
    expect(await streamed(new PartsBody([]))).toEqual([]);
  });

  it('slices across part boundaries into views of the parts', () => {
    const body = new PartsBody(parts);
    for (const [start, end] of [[0, 3578], [0, 1000], [999, 1002], [1001, 3501], [3500, 3578], [5, 5], [0, 1]]) {
      const s = body.slice(start!, end!);
      expect(s.length).toBe(end! - start!);
      expect(Buffer.concat(s.parts).equals(joined.subarray(start, end))).toBe(true);
      for (const v of s.parts) expect(parts.some((p) => p.buffer === v.buffer)).toBe(true);
    }
    // a part wholly inside the range is kept as it is
    expect(body.slice(1000, 3501).parts[1]).toBe(parts[3]);
  });

  it('hashes the parts as the bytes joined', () => {
    const body = new PartsBody(parts);
    expect(body.sha256Hex()).toBe(createHash('sha256').update(joined).digest('hex'));
    expect(new PartsBody([]).sha256Hex()).toBe(createHash('sha256').digest('hex'));
  });

  it("takes the caller's SHA-256 as it is, and hashes itself when what it is given is no hex SHA-256", () => {
    // a value the parts do not have shows that it is not recomputed
    const given = 'ab'.repeat(32);
    expect(new PartsBody(parts, given).sha256Hex()).toBe(given);
    const own = createHash('sha256').update(joined).digest('hex');
    for (const bad of ['', 'AB'.repeat(32), 'ab'.repeat(31), `sha256:${own}`]) expect(new PartsBody(parts, bad).sha256Hex()).toBe(own);
    // a slice is other bytes: it hashes its own
    expect(new PartsBody(parts, given).slice(0, 10).sha256Hex()).toBe(createHash('sha256').update(joined.subarray(0, 10)).digest('hex'));
  });

  it('compares stored bytes with parts, views included', () => {
    expect(sameBytes(joined, parts)).toBe(true);
    expect(sameBytes(Uint8Array.from(joined.subarray(10, 20)), joined.subarray(10, 20))).toBe(true);
    expect(sameBytes(joined.subarray(10, 20), joined.subarray(11, 21))).toBe(false);
    expect(sameBytes(joined.subarray(1), parts)).toBe(false);
    const other = Buffer.from(joined);
    other[2000] = other[2000]! ^ 1;
    expect(sameBytes(other, parts)).toBe(false);
  });
});
