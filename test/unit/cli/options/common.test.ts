import { describe, expect, it } from 'vitest';
import { byteSize, commaList, positiveInt } from '../../../../src/cli/options/common.js';

describe('option parsers', () => {
  it('byteSize reads plain numbers and k/m/g suffixes as powers of 1024', () => {
    expect(byteSize('1048576')).toBe(1048576);
    expect(byteSize('512k')).toBe(512 * 1024);
    expect(byteSize('64m')).toBe(64 * 1024 * 1024);
    expect(byteSize('1GiB')).toBe(1024 ** 3);
    expect(() => byteSize('lots')).toThrow(/size/);
    expect(() => byteSize('0')).toThrow();
  });
  it('commaList trims and drops empty items', () => {
    expect(commaList(' a, b,,c ')).toEqual(['a', 'b', 'c']);
  });
  it('positiveInt refuses zero, negatives and fractions', () => {
    expect(positiveInt('7')).toBe(7);
    for (const bad of ['0', '-1', '1.5', 'x']) expect(() => positiveInt(bad)).toThrow();
  });
});
