import { describe, expect, it } from 'vitest';
import { checkTarget, formatMarkdownTable, formatTable, formatTarget, median, parseScale, speedRatio } from '../../bench/lib/stats.js';
import { decodeRecord, encodeRecord, makeRecord } from '../../bench/lib/data.js';
import { gzipSync } from 'node:zlib';

describe('bench stats', () => {
  it('median of odd, even and unsorted samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('speed ratio is baseline time over mqbak time', () => {
    expect(speedRatio(2, 4)).toBe(2);
    expect(speedRatio(4, 2)).toBe(0.5);
    expect(speedRatio(0, 2)).toBeNaN();
  });

  it('targets say met or missed and by how much', () => {
    const missed = checkTarget('x', 'x', 'at-least', 1.0, 0.8, 'x');
    expect(missed.met).toBe(false);
    expect(missed.marginPercent).toBeCloseTo(-20);
    expect(formatTarget(missed)).toBe('MISSED by 20.0%');
    const met = checkTarget('r', 'rss', 'at-most', 256, 192, 'MB');
    expect(met.met).toBe(true);
    expect(met.marginPercent).toBeCloseTo(25);
    expect(formatTarget(met)).toBe('met (+25.0% margin)');
    const none = checkTarget('n', 'n', 'at-least', 1, null, 'x', 'command failed');
    expect(none.met).toBeNull();
    expect(formatTarget(none)).toBe('NOT MEASURED (command failed)');
  });

  it('tables align columns and escape pipes in markdown', () => {
    const t = formatTable(['run', 's'], [['a', '1.00'], ['longer', '10.00']]);
    expect(t.split('\n')).toEqual(['run         s', '------  -----', 'a        1.00', 'longer  10.00']);
    const md = formatMarkdownTable(['run', 's'], [['kcat | zstd', '1']]);
    expect(md.split('\n')).toEqual(['| run | s |', '| --- | ---: |', '| kcat \\| zstd | 1 |']);
  });

  it('parses --scale', () => {
    expect(parseScale('full')).toBe(1_000_000);
    expect(parseScale('20k')).toBe(20_000);
    expect(parseScale('1m')).toBe(1_000_000);
    expect(parseScale('5000')).toBe(5000);
    expect(() => parseScale('ten')).toThrow(/--scale/);
    expect(() => parseScale('10')).toThrow(/at least/);
  });
});

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
