import { describe, expect, it } from 'vitest';
import { decodeRecord, encodeRecord, makeRecord } from '../../../bench/lib/data.js';
import { gzipSync } from 'node:zlib';

describe('bench data', () => {
  it('records are deterministic, about 1 KiB of JSON with a key and headers', () => {
    const a = makeRecord(42);
    const b = makeRecord(42);
    expect(a.value.equals(b.value)).toBe(true);
    expect(makeRecord(43).value.equals(a.value)).toBe(false);
    const sizes = Array.from({ length: 200 }, (_, i) => makeRecord(i).value.length);
    const mean = sizes.reduce((s, x) => s + x, 0) / sizes.length;
    expect(mean).toBeGreaterThan(900);
    expect(mean).toBeLessThan(1150);
    expect(JSON.parse(a.value.toString()).type).toMatch(/\./);
    expect(a.key.toString()).toMatch(/^user-\d+$/);
    expect(a.headers.map(([k]) => k)).toEqual(['content-type', 'traceparent', 'event-type']);
    // compressible like real events, far from random bytes
    const joined = Buffer.concat(Array.from({ length: 200 }, (_, i) => makeRecord(i).value));
    const ratio = joined.length / gzipSync(joined).length;
    expect(ratio).toBeGreaterThan(2.5);
    expect(ratio).toBeLessThan(20);
    // no tab or newline: the kcat baselines use them as delimiters
    expect(joined.includes(0x09) || joined.includes(0x0a)).toBe(false);
  });

  it('encode/decode round trip', () => {
    const r = makeRecord(7);
    const enc = encodeRecord(r);
    expect(enc.readUInt32LE(0)).toBe(enc.length - 4);
    const d = decodeRecord(enc, 4);
    expect(d.key.equals(r.key)).toBe(true);
    expect(d.value.equals(r.value)).toBe(true);
    expect(d.headers.map(([k, v]) => [k, v.toString()])).toEqual(r.headers.map(([k, v]) => [k, v.toString()]));
  });
});
