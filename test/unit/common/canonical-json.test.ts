import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../../src/common/canonical-json.js';
import { xorshift32 } from '../../helpers/random.js';

/** An independent reference: sort every object's keys into a new object and let JSON.stringify write it. */
function sortedCopy(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedCopy);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, sortedCopy(o[k])]),
    );
  }
  return v;
}


const strings = ['', 'a', 'content-type', 'é', '"quoted"', 'line\nbreak', '\u0000', '😀', 'x-death', 'Zeta', 'alpha', '\\'];

function randomValue(rnd: () => number, depth: number): unknown {
  const r = rnd();
  if (depth > 3 || r < 0.35) {
    const p = rnd();
    if (p < 0.15) return null;
    if (p < 0.3) return rnd() < 0.5;
    if (p < 0.5) return Math.floor(rnd() * 1e6) - 5e5;
    if (p < 0.6) return (rnd() - 0.5) * 1e-3;
    if (p < 0.65) return -0;
    if (p < 0.7) return undefined;
    return strings[Math.floor(rnd() * strings.length)]! + (rnd() < 0.3 ? String(Math.floor(rnd() * 100)) : '');
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rnd() * 4) }, () => randomValue(rnd, depth + 1));
  const o: Record<string, unknown> = {};
  const n = Math.floor(rnd() * 5);
  for (let i = 0; i < n; i++) {
    const k = strings[Math.floor(rnd() * strings.length)]! + (rnd() < 0.5 ? '' : String(i));
    // integer-like keys would come first in the reference's objects whatever their sort order
    o[/^\d+$/.test(k) ? `n${k}` : k] = randomValue(rnd, depth + 1);
  }
  return o;
}

describe('canonical JSON', () => {
  it('writes what JSON.stringify writes of the value with every key sorted, compact and indented', () => {
    const next = xorshift32(42);
    const rnd = () => next() / 2 ** 32;
    for (let i = 0; i < 3000; i++) {
      const v = { top: randomValue(rnd, 0), list: [randomValue(rnd, 1), undefined], n: i };
      const ref = sortedCopy(v);
      expect(canonicalJson(v)).toBe(JSON.stringify(ref));
      expect(canonicalJson(v, 2)).toBe(JSON.stringify(ref, null, 2));
    }
  });

  it('sorts keys by UTF-16 code units and leaves out undefined values', () => {
    expect(canonicalJson({ b: 1, a: [3, undefined], B: { z: undefined, y: 'é' }, '': null })).toBe('{"":null,"B":{"y":"é"},"a":[3,null],"b":1}');
    expect(canonicalJson({})).toBe('{}');
    expect(canonicalJson([])).toBe('[]');
  });

  it('refuses what JSON cannot hold exactly', () => {
    expect(() => canonicalJson({ a: NaN })).toThrow(/not a JSON number/);
    expect(() => canonicalJson([Infinity])).toThrow(/not a JSON number/);
    expect(() => canonicalJson({ a: new Uint8Array(1) })).toThrow(/base64/);
    expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
    expect(() => canonicalJson({ a: () => 1 })).toThrow(/cannot encode/);
  });
});
