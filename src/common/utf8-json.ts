/**
 * A check that bytes are one JSON text in UTF-8, without decoding them into a string or parsing
 * them into values: what a reader of archives needs for every record's attributes part
 * (docs/FORMAT.md, "Reader obligations"), at a fraction of the cost of TextDecoder and JSON.parse.
 *
 * It answers true only for bytes that are valid UTF-8 and whose text JSON.parse accepts (the
 * grammar of RFC 8259). It may answer false for a few texts that TextDecoder and JSON.parse do
 * accept: a leading byte-order mark (which TextDecoder drops) and nesting deeper than MAX_DEPTH.
 * So a caller that gets false decodes and parses the bytes the usual way, which either says what
 * is wrong with them or accepts them.
 */

/** Containers nested deeper than this are left to JSON.parse (false). */
export const MAX_DEPTH = 256;

const IN_OBJECT = 1;
const IN_ARRAY = 2;
// which container each open level is (reused: one check runs at a time)
const open = new Uint8Array(MAX_DEPTH);

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;

function skipSpace(b: Uint8Array, i: number, end: number): number {
  while (i < end) {
    const c = b[i]!;
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
    i++;
  }
  return i;
}

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);
}

const isCont = (c: number) => (c & 0xc0) === 0x80;

/**
 * The end of the UTF-8 sequence of a non-ASCII character starting at i, or -1 when it is not a
 * well-formed one (overlong, a surrogate, above U+10FFFF, cut off): the sequences TextDecoder's
 * fatal mode refuses.
 */
function utf8End(b: Uint8Array, i: number, end: number): number {
  const c = b[i]!;
  if (c >= 0xc2 && c <= 0xdf) return i + 1 < end && isCont(b[i + 1]!) ? i + 2 : -1;
  if (c >= 0xe0 && c <= 0xef) {
    if (i + 2 >= end) return -1;
    const c1 = b[i + 1]!;
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return c1 >= lo && c1 <= hi && isCont(b[i + 2]!) ? i + 3 : -1;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (i + 3 >= end) return -1;
    const c1 = b[i + 1]!;
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return c1 >= lo && c1 <= hi && isCont(b[i + 2]!) && isCont(b[i + 3]!) ? i + 4 : -1;
  }
  return -1;
}

// what a byte is inside a string: 0 taken as it is, else one of these
const S_QUOTE = 1;
const S_ESCAPE = 2;
const S_CONTROL = 3;
const S_NON_ASCII = 4;
const inString = new Uint8Array(256);
inString.fill(S_CONTROL, 0, 0x20);
inString[QUOTE] = S_QUOTE;
inString[BACKSLASH] = S_ESCAPE;
inString.fill(S_NON_ASCII, 0x80);

/** The end of the string whose opening quote is just before i, or -1. */
function stringEnd(b: Uint8Array, i: number, end: number): number {
  for (;;) {
    let k = 0;
    while (i < end && (k = inString[b[i]!]!) === 0) i++;
    if (i >= end) return -1;
    if (k === S_QUOTE) return i + 1;
    if (k === S_ESCAPE) {
      if (i + 1 >= end) return -1;
      const e = b[i + 1]!;
      if (e === 0x75) {
        // \uXXXX: any four hex digits (JSON.parse takes lone surrogates too)
        if (i + 6 > end || !isHex(b[i + 2]!) || !isHex(b[i + 3]!) || !isHex(b[i + 4]!) || !isHex(b[i + 5]!)) return -1;
        i += 6;
      } else if (e === QUOTE || e === BACKSLASH || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
        i += 2;
      } else {
        return -1;
      }
    } else if (k === S_CONTROL) {
      return -1;
    } else {
      i = utf8End(b, i, end);
      if (i < 0) return -1;
    }
  }
}

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;

/** The end of the number starting at i, or -1: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
function numberEnd(b: Uint8Array, i: number, end: number): number {
  if (b[i] === 0x2d) i++;
  if (i >= end) return -1;
  if (b[i] === 0x30) i++;
  else if (isDigit(b[i]!)) while (i < end && isDigit(b[i]!)) i++;
  else return -1;
  if (i < end && b[i] === 0x2e) {
    i++;
    if (i >= end || !isDigit(b[i]!)) return -1;
    while (i < end && isDigit(b[i]!)) i++;
  }
  if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (i < end && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    if (i >= end || !isDigit(b[i]!)) return -1;
    while (i < end && isDigit(b[i]!)) i++;
  }
  return i;
}

/** The end of the literal `word` (its bytes after the first, which the caller has seen) at i, or -1. */
function literalEnd(b: Uint8Array, i: number, end: number, rest: readonly number[]): number {
  if (i + 1 + rest.length > end) return -1;
  for (let k = 0; k < rest.length; k++) if (b[i + 1 + k] !== rest[k]) return -1;
  return i + 1 + rest.length;
}

const RUE = [0x72, 0x75, 0x65];
const ALSE = [0x61, 0x6c, 0x73, 0x65];
const ULL = [0x75, 0x6c, 0x6c];

/** A member name and its colon from i (spaces first), or -1: the position after the colon. */
function memberNameEnd(b: Uint8Array, i: number, end: number): number {
  i = skipSpace(b, i, end);
  if (i >= end || b[i] !== QUOTE) return -1;
  i = stringEnd(b, i + 1, end);
  if (i < 0) return -1;
  i = skipSpace(b, i, end);
  return i < end && b[i] === COLON ? i + 1 : -1;
}

/**
 * Whether bytes [start, end) of b are valid UTF-8 holding exactly one JSON text (spaces around it
 * allowed). See the top of this file for the few texts it leaves to JSON.parse.
 */
export function isUtf8Json(b: Uint8Array, start: number, end: number): boolean {
  let depth = 0;
  let i = start;
  for (;;) {
    // a value at i
    i = skipSpace(b, i, end);
    if (i >= end) return false;
    const c = b[i]!;
    if (c === 0x7b || c === 0x5b) {
      const close = c === 0x7b ? 0x7d : 0x5d;
      const j = skipSpace(b, i + 1, end);
      if (j < end && b[j] === close) {
        i = j + 1;
      } else {
        if (depth === MAX_DEPTH) return false;
        open[depth++] = c === 0x7b ? IN_OBJECT : IN_ARRAY;
        i = c === 0x7b ? memberNameEnd(b, j, end) : j;
        if (i < 0) return false;
        continue;
      }
    } else if (c === QUOTE) {
      i = stringEnd(b, i + 1, end);
    } else if (c === 0x2d || isDigit(c)) {
      i = numberEnd(b, i, end);
    } else if (c === 0x74) {
      i = literalEnd(b, i, end, RUE);
    } else if (c === 0x66) {
      i = literalEnd(b, i, end, ALSE);
    } else if (c === 0x6e) {
      i = literalEnd(b, i, end, ULL);
    } else {
      return false;
    }
    if (i < 0) return false;
    // after a value: close containers until one goes on with a comma, or the text ends
    for (;;) {
      i = skipSpace(b, i, end);
      if (depth === 0) return i === end;
      if (i >= end) return false;
      const d = b[i]!;
      const inObject = open[depth - 1] === IN_OBJECT;
      if (d === COMMA) {
        i = inObject ? memberNameEnd(b, i + 1, end) : i + 1;
        if (i < 0) return false;
        break;
      }
      if (d !== (inObject ? 0x7d : 0x5d)) return false;
      depth--;
      i++;
    }
  }
}
