import { describe, expect, it } from 'vitest';
import { checkTarget, formatMarkdownTable, formatTable, formatTarget, median, medianRatio, parseScale, speedRatio, summarize } from '../../../bench/lib/stats.js';

describe('bench stats', () => {
  it('median of odd, even and unsorted samples', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('summary: min, median, max and spread = (max - min) / median', () => {
    expect(summarize([6, 4, 5])).toEqual({ min: 4, median: 5, max: 6, spread: 0.4 });
    expect(summarize([2, 1, 4, 3])).toEqual({ min: 1, median: 2.5, max: 4, spread: 1.2 });
    expect(summarize([7])).toEqual({ min: 7, median: 7, max: 7, spread: 0 });
    expect(summarize([])).toBeNull();
    // within 20 %: 0.9 .. 1.1 around a median of 1
    expect(summarize([0.9, 1, 1.1])?.spread).toBeCloseTo(0.2);
  });

  it('a target is judged on the ratio of the medians, not on the best samples', () => {
    // the baseline's medians 2.0 s, mqbak's 2.5 s: 0.8x, although mqbak's fastest (1.0 s) beat
    // every baseline sample
    const r = medianRatio([1.0, 2.5, 2.6], [1.9, 2.0, 2.1]);
    expect(r).toBeCloseTo(0.8);
    expect(checkTarget('x', 'x', 'at-least', 0.9, r, 'x').met).toBe(false);
    // and the reverse: one slow mqbak sample does not miss a target the medians meet
    const r2 = medianRatio([1.0, 1.1, 9.0], [2.0, 2.1, 1.9]);
    expect(r2).toBeCloseTo(2.0 / 1.1);
    expect(checkTarget('x', 'x', 'at-least', 1.0, r2, 'x').met).toBe(true);
    // even counts take the middle two
    expect(medianRatio([1, 3], [4, 4])).toBe(2);
    expect(medianRatio([], [1])).toBeNull();
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
