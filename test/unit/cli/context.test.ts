import { describe, expect, it } from 'vitest';
import { formatCount } from '../../../src/cli/context.js';

describe('formatCount', () => {
  it('writes whole numbers as toLocaleString("en-US") does', () => {
    const values = [0, 1, 9, 10, 99, 100, 999, 1000, 1001, 9999, 10000, 12345, 99999, 100000, 200000, 999999, 1000000, 1234567, 230591234, 2 ** 31, 2 ** 32 + 7, Number.MAX_SAFE_INTEGER];
    for (let d = 1, x = 7; d < 16; d++, x = x * 10 + ((d * 3) % 10)) values.push(x);
    for (const v of values) expect(formatCount(v)).toBe(v.toLocaleString('en-US'));
  });

  it('leaves other numbers to toLocaleString', () => {
    for (const v of [-0, -1, -1234567, 1.5, 1234.5678, 2 ** 60, NaN, Infinity]) expect(formatCount(v)).toBe(v.toLocaleString('en-US'));
  });
});
