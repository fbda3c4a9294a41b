// attributesCheck (what verify checks attributes parts with) against isUtf8Json, the full check it
// stands in for: the same answer for every part of a sequence, valid or damaged, whatever template
// the parts before it left.
import { describe, expect, it } from 'vitest';
import { xorshift32 } from '../../helpers/random.js';
import { attributesCheck } from '../../../src/archive/attributes-check.js';
import { isUtf8Json } from '../../../src/common/utf8-json.js';

const enc = (s: string) => new TextEncoder().encode(s);

/** Numbers in [0, 1), the same for the same seed. */
function uniform(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}

/** Attributes as the RabbitMQ adapter writes them (canonical compact JSON), message i. */
function amqp(i: number, rand: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
  const value = pick([`00-${i.toString(16)}-${Math.floor(rand() * 1e9)}-01`, 'ünïcödé ☃ 𝄞', 'tab\\tand\\"quote\\u00e9', '', 'x'.repeat(Math.floor(rand() * 40))]);
  return (
    `{"exchange":"","properties":{"contentType":"application/json","deliveryMode":${pick([1, 2])},"headers":[` +
    `{"name":"traceparent","value":{"type":"string","value":"${value}"}},{"name":"x-retries","value":{"type":"int32","value":${pick([0, -1, 7, 12345, 1.5, -2e-3, 6.02e23])}}}],` +
    `"messageId":"user-${i}-${pick(['a', 'bb', 'ccc'])}","timestamp":${1764000000 + i}},"redelivered":${pick(['false', 'true', 'null'])},"routingKey":"${pick(['jobs', 'bench-q-1', ''])}"}`
  );
}

describe('attributesCheck', () => {
  it('answers as isUtf8Json for parts alike, each following a template, and says yes to them', () => {
    const rand = uniform(7);
    const check = attributesCheck();
    for (let i = 0; i < 2000; i++) {
      const b = enc(amqp(i, rand));
      expect(check(b, 0, b.length), amqp(i, uniform(7))).toBe(true);
      expect(isUtf8Json(b, 0, b.length)).toBe(true);
    }
  });

  it('finds the damage isUtf8Json finds where a part differs from its template only inside a string, a number or a literal', () => {
    const template = enc('{"id":"user-1-a","n":12,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true]}');
    // each differs from the template inside one token
    const cases: Array<[string, boolean]> = [
      ['{"id":"user-2-bb","n":13,"ok":true,"s":"ab\\tcd","u":"ü","list":[2,"yy",null]}', true],
      ['{"id":"user-1-a\u0001","n":12,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true]}', false], // a control character
      ['{"id":"user-1-a","n":012,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true]}', false], // a leading zero
      ['{"id":"user-1-a","n":12e,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true]}', false], // no exponent
      ['{"id":"user-1-a","n":1.2.3,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true]}', false],
      ['{"id":"user-1-a","n":12,"ok":fals,"s":"ab\\ncd","u":"é","list":[1,"x",true]}', false],
      ['{"id":"user-1-a","n":12,"ok":falsey,"s":"ab\\ncd","u":"é","list":[1,"x",true]}', false],
      ['{"id":"user-1-a","n":12,"ok":false,"s":"ab\\qcd","u":"é","list":[1,"x",true]}', false], // a bad escape
      ['{"id":"user-1-a","n":12,"ok":false,"s":"ab\\u12cd","u":"é","list":[1,"x",true]}', true],
      ['{"id":"user-1-a","n":12,"ok":false,"s":"ab\\u12","u":"é","list":[1,"x",true]}', false],
      ['{"id":"user-1-a","n":12,"ok":false,"s":"ab\\ncd\\","u":"é","list":[1,"x",true]}', false], // the quote escaped
      ['{"id":"user-1-a","n":12,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true]', false], // cut off
      ['{"id":"user-1-a","n":12,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true]}}', false], // one more
      ['{"id":"user-1-a","n":-0.5E+3,"ok":false,"s":"","u":"","list":[1e9,"",false]}', true],
      ['{"id":"user-1-a","n":12,"ok":false,"s":"ab\\ncd","u":"é","list":[1,"x",true],"more":1}', true],
    ];
    const utf8 = (s: string) => enc(s);
    const bad = [
      // bytes TextDecoder refuses, in place of the é of "u"
      (b: Uint8Array) => b.map((c, k) => (k === b.indexOf(0xc3) + 1 ? 0x28 : c)),
      (b: Uint8Array) => b.map((c, k) => (k === b.indexOf(0xc3) ? 0xc0 : c)),
      (b: Uint8Array) => b.map((c, k) => (k === b.indexOf(0xc3) ? 0xff : c)),
    ];
    const parts = [...cases.map(([s]) => utf8(s)), ...bad.map((f) => f(Uint8Array.from(template)))];
    const wanted = [...cases.map(([, ok]) => ok), ...bad.map(() => false)];
    for (let k = 0; k < parts.length; k++) {
      const check = attributesCheck();
      expect(check(template, 0, template.length)).toBe(true); // the template
      const p = parts[k]!;
      expect(isUtf8Json(p, 0, p.length), `isUtf8Json, case ${k}`).toBe(wanted[k]);
      expect(check(p, 0, p.length), `case ${k}: ${new TextDecoder().decode(p)}`).toBe(wanted[k]);
    }
  });

  it('answers as isUtf8Json on randomly damaged parts, within larger buffers, whatever template the ones before left', () => {
    const rand = uniform(11);
    const check = attributesCheck();
    let refused = 0;
    for (let t = 0; t < 20000; t++) {
      const text = enc(amqp(t, rand));
      const b = new Uint8Array(text.length + 16);
      const start = 3 + Math.floor(rand() * 8);
      b.set(text, start);
      const end = start + text.length;
      for (let k = Math.floor(rand() * 3); k > 0; k--) {
        const at = start + Math.floor(rand() * text.length);
        const r = rand();
        // a JSON byte, a digit or letter of a number or literal, a UTF-8 lead or continuation, a control, anything
        b[at] =
          r < 0.3 ? [0x22, 0x7b, 0x7d, 0x5b, 0x5d, 0x5c, 0x2c, 0x3a, 0x20][Math.floor(rand() * 9)]!
          : r < 0.5 ? [0x30, 0x31, 0x2d, 0x2b, 0x2e, 0x65, 0x45, 0x61, 0x6c][Math.floor(rand() * 9)]!
          : r < 0.6 ? [0xc3, 0xa9, 0xe2, 0xf0, 0x80, 0xff][Math.floor(rand() * 6)]!
          : r < 0.7 ? Math.floor(rand() * 0x20)
          : Math.floor(rand() * 256);
      }
      const expected = isUtf8Json(b, start, end);
      if (!expected) refused++;
      expect(check(b, start, end), `trial ${t}: ${Buffer.from(b.subarray(start, end)).toString('latin1')}`).toBe(expected);
    }
    expect(refused).toBeGreaterThan(5000);
  });

  it('answers as isUtf8Json for every byte value at every place of a long string that differs from its template', () => {
    // a string token read 4 bytes at a time, between runs compared 16 and 8 bytes at a time
    const text = (id: string, tail: string) => enc(`{"exchange":"","properties":{"headers":[{"name":"traceparent","value":"${id}"}],"messageId":"m-${tail}"},"routingKey":"q"}`);
    const template = text('00-0123456789abcdef0123456789abcdef-0123456789abcdef-01', '1');
    const other = '00-fedcba9876543210fedcba9876543210-fedcba9876543210-01';
    const values = [0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x2f, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0xa0, 0xc3, 0xe2, 0xfe, 0xff];
    let refused = 0;
    for (let shift = 0; shift < 4; shift++) {
      const pad = new Uint8Array(shift + 16);
      for (let at = 0; at < other.length; at++) {
        for (const v of values) {
          const part = text(other, 'x'.repeat(1 + ((at + shift) % 5)));
          const idStart = Buffer.from(part).indexOf('00-fedc');
          part[idStart + at] = v;
          const b = new Uint8Array(pad.length + part.length);
          b.set(part, shift);
          const check = attributesCheck();
          expect(check(template, 0, template.length)).toBe(true);
          const expected = isUtf8Json(b, shift, shift + part.length);
          if (!expected) refused++;
          expect(check(b, shift, shift + part.length), `shift ${shift}, byte ${at} = ${v}`).toBe(expected);
        }
      }
    }
    expect(refused).toBeGreaterThan(4 * 55 * 10);
  });
});
