// The byte-level UTF-8 JSON check against what it stands in for, TextDecoder (fatal) and
// JSON.parse: it must never say yes where they refuse, and says no where they accept only for a
// leading byte-order mark and deep nesting (its callers then ask them).
import { describe, expect, it } from 'vitest';
import { xorshift32 } from '../../helpers/random.js';
import { isUtf8Json, MAX_DEPTH } from '../../../src/common/utf8-json.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const enc = (s: string) => new TextEncoder().encode(s);

function parses(b: Uint8Array): boolean {
  try {
    JSON.parse(utf8.decode(b));
    return true;
  } catch {
    return false;
  }
}

const check = (b: Uint8Array) => isUtf8Json(b, 0, b.length);

/** What may be accepted by TextDecoder and JSON.parse and still get no from the check. */
function leftToJsonParse(b: Uint8Array): boolean {
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return true;
  let depth = 0;
  for (const c of b) {
    if (c === 0x5b || c === 0x7b) depth++;
    if (c === 0x5d || c === 0x7d) depth--;
    if (depth > MAX_DEPTH) return true;
  }
  return false;
}

/** Numbers in [0, 1), the same for the same seed. */
function uniform(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}

const STRINGS = ['', 'a', 'jobs', 'ünï ☃', '𝄞 clef', 'quote " and \\ back', 'tab\tnew\nline', '\u2028\u2029', '\u0000\u001f', 'NaN', '-0'];
const NUMBERS = [0, -0.5, 1, 42, 1e21, 1.5e-7, -123456789, 2 ** 53];

function randomValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.4) {
    const k = Math.floor(rand() * 5);
    if (k === 0) return STRINGS[Math.floor(rand() * STRINGS.length)];
    if (k === 1) return NUMBERS[Math.floor(rand() * NUMBERS.length)];
    if (k === 2) return rand() < 0.5;
    if (k === 3) return null;
    return `s${Math.floor(rand() * 1000)}`;
  }
  if (r < 0.7) return Array.from({ length: Math.floor(rand() * 4) }, () => randomValue(rand, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 4); i > 0; i--) o[STRINGS[Math.floor(rand() * STRINGS.length)]! + i] = randomValue(rand, depth + 1);
  return o;
}

// bytes a damaged attributes part could hold: JSON's own, whitespace, escapes, broken UTF-8
const BYTES = [0x22, 0x5c, 0x7b, 0x7d, 0x5b, 0x5d, 0x3a, 0x2c, 0x20, 0x0a, 0x09, 0x2d, 0x2e, 0x30, 0x31, 0x65, 0x45, 0x2b, 0x75, 0x41, 0x66, 0x74, 0x6e, 0x00, 0x1f, 0x7f, 0x80, 0xbf, 0xc0, 0xc2, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];

function mutate(b: Uint8Array, rand: () => number): Uint8Array {
  const a = Array.from(b);
  for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
    const at = Math.floor(rand() * (a.length + 1));
    const byte = rand() < 0.7 ? BYTES[Math.floor(rand() * BYTES.length)]! : Math.floor(rand() * 256);
    const op = rand();
    if (op < 0.4 && at < a.length) a[at] = byte;
    else if (op < 0.7) a.splice(at, 0, byte);
    else if (op < 0.9 && at < a.length) a.splice(at, 1);
    else a.length = Math.min(a.length, at);
  }
  return Uint8Array.from(a);
}

describe('isUtf8Json', () => {
  it('accepts what JSON.stringify writes, and the AMQP attributes of a record', () => {
    const rand = uniform(7);
    for (let i = 0; i < 2000; i++) {
      const text = JSON.stringify(randomValue(rand, 0), null, i % 3 === 0 ? 2 : undefined);
      expect(check(enc(text)), text).toBe(true);
    }
    const amqp = '{"exchange":"","properties":{"contentType":"application/json","deliveryMode":2,"headers":[{"name":"x-retries","value":{"type":"int32","value":1}}],"messageId":"user-1-0","timestamp":1764000000},"redelivered":false,"routingKey":"jobs"}';
    expect(check(enc(amqp))).toBe(true);
  });

  const cases: Array<[string, string | number[]]> = [
    ['empty', ''],
    ['only spaces', '  \n'],
    ['a leading zero', '01'],
    ['a bare minus', '-'],
    ['a dot without digits', '1.'],
    ['an exponent without digits', '1e+'],
    ['a plus sign', '+1'],
    ['two dots', '1..5'],
    ['a dot before the exponent', '1.e5'],
    ['two minus signs', '--1'],
    ['two exponents', '1e5e5'],
    ['hex', '0x10'],
    ['a leading dot', '.5'],
    ['two zeros', '00'],
    ['a trailing comma in an array', '[1,]'],
    ['a trailing comma in an object', '{"a":1,}'],
    ['a missing colon', '{"a" 1}'],
    ['a name that is not a string', '{a:1}'],
    ['two values', '1 2'],
    ['an unclosed array', '[1'],
    ['a mismatched close', '[1}'],
    ['a close without open', ']'],
    ['an unclosed string', '"abc'],
    ['a bad escape', '"\\x"'],
    ['a short unicode escape', '"\\u12"'],
    ['a non-hex unicode escape', '"\\u12g4"'],
    ['a raw control character in a string', [0x22, 0x01, 0x22]],
    ['a raw tab in a string', [0x22, 0x09, 0x22]],
    ['single quotes', "'a'"],
    ['True', 'True'],
    ['tru', 'tru'],
    ['NaN', 'NaN'],
    ['a form feed as whitespace', [0x0c, 0x31]],
    ['a no-break space as whitespace', [0xc2, 0xa0, 0x31]],
    ['an overlong slash', [0x22, 0xc0, 0xaf, 0x22]],
    ['an overlong 3-byte form', [0x22, 0xe0, 0x80, 0xaf, 0x22]],
    ['a UTF-8 encoded surrogate', [0x22, 0xed, 0xa0, 0x80, 0x22]],
    ['a code point above U+10FFFF', [0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]],
    ['a cut off sequence', [0x22, 0xe2, 0x98, 0x22]],
    ['a lone continuation byte', [0x22, 0x80, 0x22]],
    ['0xff', [0x22, 0xff, 0x22]],
    ['a UTF-8 sequence cut by the end', [0x22, 0xf0, 0x9d]],
  ];
  for (const [what, text] of cases) {
    it(`refuses ${what}, as TextDecoder and JSON.parse do`, () => {
      const b = typeof text === 'string' ? enc(text) : Uint8Array.from(text);
      expect(parses(b)).toBe(false);
      expect(check(b)).toBe(false);
    });
  }

  it('accepts what JSON.parse accepts at the edges: any top-level value, escaped lone surrogates, spaces around, huge numbers', () => {
    for (const text of ['0', '-0', '"x"', 'true', 'null', ' [ ] ', '{ }', '"\\ud800"', '"\\uDC00\\u0041"', '1E400', '-1.5e-3', '"\u007f"', '\t{"a" : [1 , 2]}\r\n']) {
      expect(parses(enc(text)), text).toBe(true);
      expect(check(enc(text)), text).toBe(true);
    }
  });

  it('leaves a byte-order mark and deeper nesting than MAX_DEPTH to JSON.parse', () => {
    const bom = Uint8Array.from([0xef, 0xbb, 0xbf, 0x31]);
    expect(parses(bom)).toBe(true);
    expect(check(bom)).toBe(false);
    const nested = (n: number) => enc('[{"a":'.repeat(n) + '0' + '}]'.repeat(n));
    const deep = nested(MAX_DEPTH / 2 + 1);
    expect(parses(deep)).toBe(true);
    expect(check(deep)).toBe(false);
    expect(check(nested(MAX_DEPTH / 2))).toBe(true);
  });

  it('checks only [start, end): bytes around do not count', () => {
    const b = enc('xx{"a":1}yy');
    expect(check(b)).toBe(false);
    expect(isUtf8Json(b, 2, 9)).toBe(true);
    expect(isUtf8Json(b, 2, 8)).toBe(false);
  });

  it('on damaged JSON never says yes where TextDecoder or JSON.parse refuse, and says no only where they refuse (or it leaves it to them)', () => {
    const rand = uniform(11);
    let refused = 0;
    for (let i = 0; i < 20000; i++) {
      const b = mutate(enc(JSON.stringify(randomValue(rand, 0))), rand);
      const expected = parses(b);
      const got = check(b);
      if (!expected) refused++;
      if (got) expect(expected, `accepted ${JSON.stringify(Array.from(b))}`).toBe(true);
      else if (expected) expect(leftToJsonParse(b), `refused ${JSON.stringify(Array.from(b))}`).toBe(true);
    }
    // the damage is real: most mutations break the text
    expect(refused).toBeGreaterThan(10000);
  });
});
