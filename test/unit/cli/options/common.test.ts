import { describe, expect, it } from 'vitest';
import { byteSize, commaList, compressionLevel, isoTime, parseMap, positiveInt } from '../../../../src/cli/options/common.js';

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
  it('compressionLevel takes 1 to 9 only (the codecs run out of memory above)', () => {
    expect(compressionLevel('1')).toBe(1);
    expect(compressionLevel('9')).toBe(9);
    for (const bad of ['0', '10', '99', '-1', '3.5', 'max', '']) expect(() => compressionLevel(bad), bad).toThrow(/from 1 to 9/);
  });
  it('isoTime takes ISO 8601 dates and zoned date-times only', () => {
    expect(isoTime('2026-11-24T23:00:00Z', '--until')).toBe(Date.UTC(2026, 10, 24, 23));
    expect(isoTime('2026-11-24T23:00:00.5+01:00', '--until')).toBe(Date.UTC(2026, 10, 24, 22, 0, 0, 500));
    expect(isoTime('2026-11-24', '--until')).toBe(Date.UTC(2026, 10, 24));
    // Date.parse takes "5" as May 2001 and a time without a zone as local time
    for (const bad of ['5', '2026', 'Nov 24 2026', 'tomorrow', '2026-13-01', '2026-11-24T25:00Z']) expect(() => isoTime(bad, '--until'), bad).toThrow(`--until ${bad}: expected an ISO 8601 time`);
    expect(() => isoTime('2026-11-24T23:00', '--until')).toThrow(expect.objectContaining({ code: 'usage', hint: expect.stringMatching(/give the zone/) }));
  });
  it('positiveInt refuses zero, negatives and fractions', () => {
    expect(positiveInt('7')).toBe(7);
    for (const bad of ['0', '-1', '1.5', 'x']) expect(() => positiveInt(bad)).toThrow();
  });
});

describe('--map', () => {
  it('reads src=dst items; the target may hold "="; a source mapped twice or a bare name is a usage error', () => {
    expect(parseMap(['a=b', 'c=d=e'])).toEqual({ a: 'b', c: 'd=e' });
    expect(parseMap([])).toEqual({});
    expect(() => parseMap(['a'])).toThrow(/src=dst/);
    expect(() => parseMap(['=b'])).toThrow(/src=dst/);
    expect(() => parseMap(['a='])).toThrow(/src=dst/);
    expect(() => parseMap(['a=b', 'a=c'])).toThrow(/twice/);
  });
});
