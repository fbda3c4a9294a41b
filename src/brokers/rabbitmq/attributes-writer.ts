/**
 * A delivery's attributes (docs/FORMAT.md 4.5.1) written as their compact canonical JSON bytes
 * straight from the captured content-header bytes, without the AmqpMessageMeta object, the
 * canonical-JSON string and its UTF-8 copy that amqp-json.ts and the archive's record encoder
 * make per message. The bytes are exactly those: keys in canonical order, the same numbers and
 * strings. Only the common case is written here (strings of printable ASCII without '"' or '\',
 * integers, no float or double headers); anything else returns null and the caller takes the
 * general path (delivery.ts), which also reports invalid UTF-8 and malformed headers as before.
 * Room for a delivery's bytes is made once (MAX_GROWTH) and they are written with no bound check
 * per byte; the parts around the properties are kept while the exchange and routing key repeat.
 */
import type { ByteWriter } from './byte-writer.js';

const TWO_32 = 2 ** 32;
/** The largest high word of an unsigned 64-bit value that stays an exact number (< 2^53). */
const MAX_EXACT_HIGH = 0x1fffff;

/** What the caller needs of the properties besides the bytes: the timestamp, or -1 when absent. */
export interface WrittenAttributes {
  timestamp: number;
}

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Wire order of the basic properties (bit 15 down to bit 2 of the flags). */
const SHORTSTR = 0;
const OCTET = 1;
const TABLE = 2;
const LONGLONG = 3;
const WIRE: ReadonlyArray<{ name: string; kind: number }> = [
  { name: 'contentType', kind: SHORTSTR },
  { name: 'contentEncoding', kind: SHORTSTR },
  { name: 'headers', kind: TABLE },
  { name: 'deliveryMode', kind: OCTET },
  { name: 'priority', kind: OCTET },
  { name: 'correlationId', kind: SHORTSTR },
  { name: 'replyTo', kind: SHORTSTR },
  { name: 'expiration', kind: SHORTSTR },
  { name: 'messageId', kind: SHORTSTR },
  { name: 'timestamp', kind: LONGLONG },
  { name: 'type', kind: SHORTSTR },
  { name: 'userId', kind: SHORTSTR },
  { name: 'appId', kind: SHORTSTR },
  { name: 'clusterId', kind: SHORTSTR },
];
const TIMESTAMP = WIRE.findIndex((p) => p.name === 'timestamp');
/** Wire indexes in canonical (sorted name) order. */
const SORTED = WIRE.map((p, i) => ({ name: p.name, i }))
  .sort((a, b) => (a.name < b.name ? -1 : 1))
  .map((p) => p.i);
/** `"name":` of each property, by wire index. */
const KEYS = WIRE.map((p) => ascii(`"${p.name}":`));
/** `,"name":` of each property, by wire index. */
const NEXT_KEYS = WIRE.map((p) => ascii(`,"${p.name}":`));

const FIELD_NAME = ascii('{"name":');
const FIELD_VALUE = ascii(',"value":');
const TRUE = ascii('true');
const FALSE = ascii('false');
const PLACES = ascii(',"places":');
const DECIMAL_END = ascii(',"type":"decimal"}');
/** `{"type":"<t>","value":` for each tag that has a value, by tag byte. */
const TYPED: Array<Uint8Array | undefined> = [];
for (const [tag, type] of Object.entries({ t: 'bool', b: 'int8', B: 'uint8', s: 'int16', u: 'uint16', I: 'int32', i: 'uint32', l: 'int64', T: 'timestamp', S: 'string', x: 'bytes', F: 'table', A: 'array' })) {
  TYPED[tag.charCodeAt(0)] = ascii(`{"type":"${type}","value":`);
}
const DECIMAL_START = ascii('{"digits":');
const VOID = ascii('{"type":"void"}');

const spans = new Int32Array(WIRE.length * 2);

/**
 * Output bytes per property byte, at most, on this path (a shortstr of length 0 is 1 byte written
 * as `,"contentEncoding":""`, 21; every table or array value is less): room for a delivery's
 * attributes is made once, then written with no bounds check per byte.
 */
const MAX_GROWTH = 24;

/**
 * `{"exchange":"<exchange>","properties":{` and `},"redelivered":<r>,"routingKey":"<key>"}` of the
 * last deliveries: a queue's deliveries mostly share them. null: the name is not the plain case.
 */
let headFor: string | undefined;
let head: Uint8Array | null = null;
let tailFor: string | undefined;
let tails: [Uint8Array, Uint8Array] | null = null;

function headOf(exchange: string): Uint8Array | null {
  if (exchange !== headFor) {
    headFor = exchange;
    head = isPlain(exchange) ? ascii(`{"exchange":"${exchange}","properties":{`) : null;
  }
  return head;
}

function tailOf(routingKey: string, redelivered: boolean): Uint8Array | null {
  if (routingKey !== tailFor) {
    tailFor = routingKey;
    tails = isPlain(routingKey) ? [ascii(`},"redelivered":false,"routingKey":"${routingKey}"}`), ascii(`},"redelivered":true,"routingKey":"${routingKey}"}`)] : null;
  }
  return tails === null ? null : tails[redelivered ? 1 : 0];
}

/** Whether a string is printable ASCII that JSON writes as it is (no '"', '\' or controls). */
function isPlain(v: string): boolean {
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k);
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

/**
 * Appends the attributes of a delivery to `w` and returns what the caller needs of them, or
 * null (with `w` as it was) when this one is not the common case.
 */
export function writeDeliveryAttributes(w: ByteWriter, exchange: string, routingKey: string, redelivered: boolean, raw: Buffer, out: WrittenAttributes): WrittenAttributes | null {
  const h = headOf(exchange);
  if (h === null) return null;
  const t = tailOf(routingKey, redelivered);
  if (t === null || !cut(raw)) return null;
  w.reserve(h.length + t.length + MAX_GROWTH * raw.length);
  const buf = w.buf;
  let o = put(buf, w.length, h);
  out.timestamp = -1;
  let first = true;
  for (const i of SORTED) {
    const s = spans[2 * i]!;
    if (s < 0) continue;
    const e = spans[2 * i + 1]!;
    o = put(buf, o, first ? KEYS[i]! : NEXT_KEYS[i]!);
    first = false;
    switch (WIRE[i]!.kind) {
      case SHORTSTR:
        o = quoted(buf, o, raw, s, e);
        if (o < 0) return null;
        break;
      case OCTET:
        o = int(buf, o, raw[s]!);
        break;
      case TABLE:
        o = table(buf, o, raw, s, e);
        if (o < 0) return null;
        break;
      default: {
        const v = u64(raw, s);
        if (v < 0) return null;
        o = int(buf, o, v);
        if (i === TIMESTAMP) out.timestamp = v;
      }
    }
  }
  w.length = put(buf, o, t);
  return out;
}

/** Finds the present properties' spans in `raw` (into `spans`); false when this path does not take them. */
function cut(raw: Buffer): boolean {
  if (raw.length < 2) return false;
  const flags = (raw[0]! << 8) | raw[1]!;
  // bits 1 and 0 (a further flag word) are not basic properties: the general path decides
  if (flags & 0x3) return false;
  let off = 2;
  for (let i = 0; i < WIRE.length; i++) {
    spans[2 * i] = -1;
    if (!(flags & (0x8000 >> i))) continue;
    let s: number;
    let e: number;
    switch (WIRE[i]!.kind) {
      case SHORTSTR:
        if (off >= raw.length) return false;
        s = off + 1;
        e = s + raw[off]!;
        break;
      case OCTET:
        s = off;
        e = off + 1;
        break;
      case TABLE:
        if (off + 4 > raw.length) return false;
        s = off + 4;
        e = s + raw.readUInt32BE(off);
        break;
      default:
        s = off;
        e = off + 8;
    }
    if (e > raw.length) return false;
    spans[2 * i] = s;
    spans[2 * i + 1] = e;
    off = e;
  }
  return true;
}

/** `b` at `o`; returns the offset after it. */
function put(buf: Uint8Array, o: number, b: Uint8Array): number {
  for (let k = 0; k < b.length; k++) buf[o++] = b[k]!;
  return o;
}

/** An integer (0 <= v < 2^53) in decimal at `o`, as JavaScript prints it; returns the offset after it. */
function int(buf: Uint8Array, o: number, v: number): number {
  if (v < 10) {
    buf[o] = 0x30 + v;
    return o + 1;
  }
  let digits = 1;
  for (let p = 10; p <= v; p *= 10) digits++;
  const end = o + digits;
  for (let k = end - 1; k >= o; k--) {
    const q = Math.floor(v / 10);
    buf[k] = 0x30 + (v - q * 10);
    v = q;
  }
  return end;
}

/** A signed integer (|v| < 2^53) at `o`. */
function signed(buf: Uint8Array, o: number, v: number): number {
  if (v >= 0) return int(buf, o, v);
  buf[o] = 0x2d;
  return int(buf, o + 1, -v);
}

/** An unsigned 64-bit big-endian value as a number, or -1 when it is 2^53 or more (not exact). */
function u64(buf: Buffer, off: number): number {
  const hi = buf.readUInt32BE(off);
  return hi > MAX_EXACT_HIGH ? -1 : hi * TWO_32 + buf.readUInt32BE(off + 4);
}

/**
 * Bytes [s, e) of `src` quoted at `o` when they are printable ASCII that JSON writes as they are
 * (no '"', '\' or controls); returns the offset after them, or -1.
 */
function quoted(buf: Uint8Array, o: number, src: Uint8Array, s: number, e: number): number {
  buf[o++] = 0x22;
  for (let k = s; k < e; k++) {
    const c = src[k]!;
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return -1;
    buf[o++] = c;
  }
  buf[o++] = 0x22;
  return o;
}

/** A string of code units below 256 at `o`, one byte each. */
function latin1(buf: Uint8Array, o: number, v: string): number {
  for (let k = 0; k < v.length; k++) buf[o++] = v.charCodeAt(k);
  return o;
}

/** A field table's entries [s, e) as `[{"name":..,"value":..},...]` at `o`; -1 to give up. */
function table(buf: Uint8Array, o: number, src: Buffer, s: number, e: number): number {
  buf[o++] = 0x5b;
  let off = s;
  while (off < e) {
    const nameEnd = off + 1 + src[off]!;
    if (nameEnd > e) return -1;
    if (off > s) buf[o++] = 0x2c;
    o = quoted(buf, put(buf, o, FIELD_NAME), src, off + 1, nameEnd);
    if (o < 0) return -1;
    o = put(buf, o, FIELD_VALUE);
    off = value(buf, o, src, nameEnd, e);
    if (off < 0) return -1;
    o = at;
    buf[o++] = 0x7d;
  }
  buf[o++] = 0x5d;
  return o;
}

/** Where value() left the output (it returns the input's offset). */
let at = 0;

/**
 * The typed value at `off` (its tag) within [.., end), written at `o`; returns the input's offset
 * after it (and sets `at` to the output's), or -1 to give up.
 */
function value(buf: Uint8Array, o: number, src: Buffer, off: number, end: number): number {
  if (off >= end) return -1;
  const tag = src[off++]!;
  const fixed = FIXED_SIZE[tag] ?? -1;
  if (fixed >= 0 && off + fixed > end) return -1;
  const typed = TYPED[tag];
  switch (tag) {
    case 0x74: // t
      o = put(buf, put(buf, o, typed!), src[off] !== 0 ? TRUE : FALSE);
      break;
    case 0x62: // b
    case 0x42: // B
    case 0x73: // s
    case 0x75: // u
    case 0x49: // I
    case 0x69: // i
      o = signed(buf, put(buf, o, typed!), integerAt(tag, src, off));
      break;
    case 0x6c: // l: a decimal string
      o = put(buf, o, typed!);
      buf[o++] = 0x22;
      o = latin1(buf, o, src.readBigInt64BE(off).toString());
      buf[o++] = 0x22;
      break;
    case 0x54: {
      // T
      const v = u64(src, off);
      if (v < 0) return -1;
      o = int(buf, put(buf, o, typed!), v);
      break;
    }
    case 0x44: // D
      o = put(buf, o, DECIMAL_START);
      o = int(buf, o, src.readUInt32BE(off + 1));
      o = put(buf, o, PLACES);
      o = int(buf, o, src[off]!);
      at = put(buf, o, DECIMAL_END);
      return off + 5;
    case 0x56: // V
      at = put(buf, o, VOID);
      return off;
    case 0x53: // S
    case 0x78: // x
    case 0x46: // F
    case 0x41: {
      // A
      if (off + 4 > end) return -1;
      const s = off + 4;
      const e = s + src.readUInt32BE(off);
      if (e > end) return -1;
      o = put(buf, o, typed!);
      if (tag === 0x53) o = quoted(buf, o, src, s, e);
      else if (tag === 0x78) {
        buf[o++] = 0x22;
        o = latin1(buf, o, src.toString('base64', s, e));
        buf[o++] = 0x22;
      } else if (tag === 0x46) o = table(buf, o, src, s, e);
      else o = array(buf, o, src, s, e);
      if (o < 0) return -1;
      buf[o++] = 0x7d;
      at = o;
      return e;
    }
    default:
      // f and d (floats print as the general path prints them), and unknown tags
      return -1;
  }
  buf[o++] = 0x7d;
  at = o;
  return off + fixed;
}

/** The integer of type `tag` (b B s u I i) at `off`. */
function integerAt(tag: number, buf: Buffer, off: number): number {
  if (tag === 0x62) return buf.readInt8(off);
  if (tag === 0x42) return buf[off]!;
  if (tag === 0x73) return buf.readInt16BE(off);
  if (tag === 0x75) return buf.readUInt16BE(off);
  return tag === 0x49 ? buf.readInt32BE(off) : buf.readUInt32BE(off);
}

function array(buf: Uint8Array, o: number, src: Buffer, s: number, e: number): number {
  buf[o++] = 0x5b;
  let off = s;
  while (off < e) {
    if (off > s) buf[o++] = 0x2c;
    off = value(buf, o, src, off, e);
    if (off < 0) return -1;
    o = at;
  }
  buf[o++] = 0x5d;
  return o;
}

/** Bytes after the tag of the fixed-size types, by tag byte. */
const FIXED_SIZE: number[] = [];
for (const [tag, n] of Object.entries({ t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, T: 8, D: 5, V: 0 })) FIXED_SIZE[tag.charCodeAt(0)] = n;
