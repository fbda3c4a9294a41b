import { describe, expect, it } from 'vitest';
import { describeSubset, parseDataSubset, readsSegment, sliceOf } from '../../../src/core/verify-subset.js';
import { segmentKey } from '../../../src/archive/keys.js';

const keys = Array.from({ length: 700 }, (_, i) => segmentKey(`20261201T0${i % 10}0000000Z-abcdef`, i % 7, i));

describe('parseDataSubset', () => {
  it('reads n/t and P%', () => {
    expect(parseDataSubset('2/7')).toEqual({ kind: 'slice', n: 2, t: 7 });
    expect(parseDataSubset(' 10% ')).toEqual({ kind: 'percent', percent: 10 });
    expect(parseDataSubset('0.5%')).toEqual({ kind: 'percent', percent: 0.5 });
    expect(describeSubset(parseDataSubset('3/3'))).toBe('3/3');
  });
  it('refuses what it cannot read', () => {
    for (const bad of ['0/7', '8/7', '1/0', '7', '/7', '0%', '101%', '-5%', 'half', '']) expect(() => parseDataSubset(bad)).toThrow(/--read-data-subset/);
  });
});

describe('slices', () => {
  it('1/t .. t/t read every segment exactly once, for several t', () => {
    for (const t of [1, 3, 7]) {
      const counts = new Map(keys.map((k) => [k, 0]));
      for (let n = 1; n <= t; n++) for (const k of keys) if (readsSegment({ kind: 'slice', n, t }, k)) counts.set(k, counts.get(k)! + 1);
      expect([...counts.values()].every((c) => c === 1)).toBe(true);
    }
  });
  it('a segment stays in its slice whatever else is in the store, and slices are about even', () => {
    expect(sliceOf(keys[5]!, 7)).toBe(sliceOf(keys[5]!, 7));
    const sizes = Array.from({ length: 7 }, (_, n) => keys.filter((k) => sliceOf(k, 7) === n + 1).length);
    for (const s of sizes) expect(s).toBeGreaterThan(60); // 100 expected each
  });
  it('a percentage reads about that share', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const read = keys.filter((k) => readsSegment({ kind: 'percent', percent: 10 }, k, random)).length;
    expect(read).toBeGreaterThan(40);
    expect(read).toBeLessThan(100);
    expect(keys.every((k) => readsSegment({ kind: 'percent', percent: 100 }, k))).toBe(true);
  });
});
