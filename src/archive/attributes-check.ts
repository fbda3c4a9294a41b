/**
 * The check of records' attributes parts (docs/FORMAT.md 4.5 and section 7: valid UTF-8 holding
 * one JSON text) for a reader of many records in a row, as verify is. The attributes of one
 * queue's messages differ from message to message mostly inside their strings and numbers (a
 * message id, a trace id, a timestamp) and keep the rest of their bytes. So the last attributes
 * part that passed the full check (isUtf8Json) is kept as a template, and the next part is compared
 * with it 8 bytes at a time; where they differ, the template must be inside a string or a number
 * (a scalar token), and the part's own token there is checked whole before both go on after it.
 *
 * Why that is the full check: up to a difference, both have read the same bytes, so a JSON reader
 * is in the same state for both (the same open containers, inside the same token). Replacing one
 * string by another string, or a number or literal by another number or literal, leaves any JSON
 * text valid; the part's replacement is checked to be exactly one such token (and a number or
 * literal is followed by no byte that could continue it). After it, both read the same bytes
 * again from the same state, to the end: the template is valid, so the part is.
 *
 * A part that does not follow its template is given to isUtf8Json, and when that accepts it, it
 * becomes the template. false means "not shown valid here": the caller decodes and parses the
 * bytes as usual, which says what is wrong or accepts (isUtf8Json's false has the same meaning).
 */
import { isUtf8Json } from '../common/utf8-json.js';

/** true only when bytes [start, end) of buf are UTF-8 holding one JSON text. */
export type AttributesCheck = (buf: Uint8Array, start: number, end: number) => boolean;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Printable ASCII other than the quote and the backslash: a string's bytes that need no look. */
const PLAIN = new Uint8Array(256);
PLAIN.fill(1, 0x20, 0x7f);
PLAIN[QUOTE] = 0;
PLAIN[BACKSLASH] = 0;
/**
 * Whether the 4 bytes of w are all PLAIN, by word arithmetic (each test says exactly whether some
 * byte has the property): none below 0x20, none above 0x7e, no quote, no backslash.
 */
function plain4(w: number): boolean {
  const q = w ^ 0x22222222;
  const s = w ^ 0x5c5c5c5c;
  return ((((w - 0x20202020) & ~w) | (w + 0x01010101) | w | ((q - 0x01010101) & ~q) | ((s - 0x01010101) & ~s)) & 0x80808080) === 0;
}

/** The bytes of numbers and of true, false and null (and more: the token is checked whole). */
const SCALAR = new Uint8Array(256);
for (const c of '0123456789+-.abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ') SCALAR[c.charCodeAt(0)] = 1;

/** After this many parts that did not follow their template, with fewer that did, the template is given up. */
const GIVE_UP_AFTER = 32;

/**
 * A check for the attributes parts of one sequence of records (one segment): isUtf8Json's
 * answers, at a fraction of its cost where parts look alike. Keeps one template; not shared.
 */
export function attributesCheck(): AttributesCheck {
  let t = new Uint8Array(0);
  let tv = new DataView(t.buffer);
  let n = -1; // the template's length; -1: none
  // the token each gap (the place before byte g, 0..n) lies in, -1 for none: a string's gaps
  // are those after its opening quote up to the one before its closing quote, a scalar's all
  // from the one before its first byte to the one after its last
  let tokenAt = new Int32Array(1);
  let tokenStart = new Int32Array(0);
  let tokenEnd = new Int32Array(0);
  let tokenIsString = new Uint8Array(0);
  let lastBuf: Uint8Array | null = null;
  let lastView: DataView = tv;
  let hits = 0;
  let misses = 0;

  /** Makes bytes [start, end) of b (valid: isUtf8Json said so) the template. */
  const adopt = (b: Uint8Array, start: number, end: number): void => {
    const len = end - start;
    if (t.length < len) {
      const size = Math.max(len, 2 * t.length);
      t = new Uint8Array(size);
      tv = new DataView(t.buffer);
      tokenAt = new Int32Array(size + 1);
      tokenStart = new Int32Array(size);
      tokenEnd = new Int32Array(size);
      tokenIsString = new Uint8Array(size);
    }
    t.set(b.subarray(start, end));
    n = len;
    tokenAt.fill(-1, 0, len + 1);
    let k = 0;
    for (let p = 0; p < len; ) {
      const c = t[p]!;
      if (c === QUOTE) {
        // valid JSON: the string closes at the first quote not escaped
        const s = p++;
        while (t[p] !== QUOTE) p += t[p] === BACKSLASH ? 2 : 1;
        p++;
        tokenStart[k] = s;
        tokenEnd[k] = p;
        tokenIsString[k] = 1;
        tokenAt.fill(k, s + 1, p);
        k++;
      } else if (SCALAR[c] === 1) {
        // outside strings, such a run is one number or literal
        const s = p;
        while (p < len && SCALAR[t[p]!] === 1) p++;
        tokenStart[k] = s;
        tokenEnd[k] = p;
        tokenIsString[k] = 0;
        tokenAt.fill(k, s, p + 1);
        k++;
      } else {
        p++;
      }
    }
  };

  /** Whether bytes [start, end) of b follow the template as the file's comment says. */
  const follows = (b: Uint8Array, start: number, end: number): boolean => {
    if (b !== lastBuf) {
      lastBuf = b;
      lastView = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    const dv = lastView;
    const tb = t;
    const tdv = tv;
    const len = n;
    let i = start;
    let j = 0;
    let resumed = -1;
    for (;;) {
      // 16 bytes a step, as two doubles each side: equal doubles other than zero (and NaN, never
      // equal) have equal bits; a zero (+0 and -0 are equal) leaves those bytes to the steps below
      while (i + 16 <= end && j + 16 <= len) {
        const x = dv.getFloat64(i, true);
        const y = dv.getFloat64(i + 8, true);
        if (x !== tdv.getFloat64(j, true) || y !== tdv.getFloat64(j + 8, true) || x === 0 || y === 0) break;
        i += 16;
        j += 16;
      }
      while (i + 8 <= end && j + 8 <= len && dv.getInt32(i, true) === tdv.getInt32(j, true) && dv.getInt32(i + 4, true) === tdv.getInt32(j + 4, true)) {
        i += 8;
        j += 8;
      }
      while (i < end && j < len && b[i] === tb[j]) {
        i++;
        j++;
      }
      if (i === end && j === len) return true;
      const k = tokenAt[j]!;
      // outside a token, or again right after the token just replaced
      if (k < 0 || j === resumed) return false;
      const from = tokenStart[k]! + i - j; // where the part's token starts
      let q = from;
      if (tokenIsString[k] === 1) {
        q++;
        while (q + 4 <= end && plain4(dv.getInt32(q, true))) q += 4;
        while (q < end && PLAIN[b[q]!] === 1) q++;
        if (q >= end) return false;
        if (b[q] !== QUOTE) {
          // escapes or other bytes: find the closing quote, then check the string whole
          while (q < end && b[q] !== QUOTE) q += b[q] === BACKSLASH ? 2 : 1;
          if (q >= end || !isUtf8Json(b, from, q + 1)) return false;
        }
        q++;
      } else {
        while (q < end && SCALAR[b[q]!] === 1) q++;
        if (!isUtf8Json(b, from, q)) return false;
      }
      i = q;
      j = tokenEnd[k]!;
      resumed = j;
    }
  };

  return (b, start, end) => {
    if (n >= 0) {
      if (follows(b, start, end)) {
        hits++;
        return true;
      }
      if (++misses > GIVE_UP_AFTER && misses > hits) n = -2; // parts unlike each other: no template
    }
    if (!isUtf8Json(b, start, end)) return false;
    if (n !== -2) adopt(b, start, end);
    return true;
  };
}
