/**
 * A delivery's attributes (docs/FORMAT.md 4.5.1) written as their compact canonical JSON bytes
 * straight from the captured content-header bytes, without the AmqpMessageMeta object, the
 * canonical-JSON string and its UTF-8 copy that amqp-json.ts and the archive's record encoder
 * make per message. The bytes are exactly those: keys in canonical order, the same numbers and
 * strings. Only the common case is written here (strings of printable ASCII without '"' or '\',
 * integers, no float or double headers); anything else returns false and the caller takes the
 * general path (delivery.ts), which also reports invalid UTF-8 and malformed headers as before.
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

const EXCHANGE = ascii('{"exchange":');
const PROPERTIES = ascii(',"properties":{');
const REDELIVERED_TRUE = ascii('},"redelivered":true,"routingKey":');
const REDELIVERED_FALSE = ascii('},"redelivered":false,"routingKey":');
const FIELD_NAME = ascii('{"name":"');
const FIELD_VALUE = ascii('","value":');
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
 * Appends the attributes of a delivery to `w` and returns what the caller needs of them, or
 * null (with `w` as it was) when this one is not the common case.
 */
export function writeDeliveryAttributes(w: ByteWriter, exchange: string, routingKey: string, redelivered: boolean, raw: Buffer, out: WrittenAttributes): WrittenAttributes | null {
  const start = w.length;
  if (writeAll(w, exchange, routingKey, redelivered, raw, out)) return out;
  w.length = start;
  return null;
}

function writeAll(w: ByteWriter, exchange: string, routingKey: string, redelivered: boolean, raw: Buffer, out: WrittenAttributes): boolean {
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
  out.timestamp = -1;
  w.bytes(EXCHANGE);
  if (!writeJsString(w, exchange)) return false;
  w.bytes(PROPERTIES);
  let first = true;
  for (const i of SORTED) {
    const s = spans[2 * i]!;
    if (s < 0) continue;
    const e = spans[2 * i + 1]!;
    if (!first) w.byte(0x2c);
    first = false;
    w.bytes(KEYS[i]!);
    switch (WIRE[i]!.kind) {
      case SHORTSTR:
        if (!writeQuoted(w, raw, s, e)) return false;
        break;
      case OCTET:
        w.int(raw[s]!);
        break;
      case TABLE:
        if (!writeTable(w, raw, s, e)) return false;
        break;
      default: {
        const v = u64(raw, s);
        if (v < 0) return false;
        w.int(v);
        if (i === TIMESTAMP) out.timestamp = v;
      }
    }
  }
  w.bytes(redelivered ? REDELIVERED_TRUE : REDELIVERED_FALSE);
  if (!writeJsString(w, routingKey)) return false;
  w.byte(0x7d);
  return true;
}

/** An unsigned 64-bit big-endian value as a number, or -1 when it is 2^53 or more (not exact). */
function u64(buf: Buffer, off: number): number {
  const hi = buf.readUInt32BE(off);
  return hi > MAX_EXACT_HIGH ? -1 : hi * TWO_32 + buf.readUInt32BE(off + 4);
}

/** Whether bytes [s, e) are printable ASCII that JSON writes as they are (no '"', '\' or controls). */
function plain(buf: Uint8Array, s: number, e: number): boolean {
  for (let k = s; k < e; k++) {
    const c = buf[k]!;
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}

function writeQuoted(w: ByteWriter, buf: Uint8Array, s: number, e: number): boolean {
  if (!plain(buf, s, e)) return false;
  w.byte(0x22);
  w.span(buf, s, e);
  w.byte(0x22);
  return true;
}

function writeJsString(w: ByteWriter, v: string): boolean {
  for (let k = 0; k < v.length; k++) {
    const c = v.charCodeAt(k);
    if (c < 0x20 || c > 0x7f || c === 0x22 || c === 0x5c) return false;
  }
  w.byte(0x22);
  w.latin1(v);
  w.byte(0x22);
  return true;
}

/** A field table's entries [s, e) as `[{"name":..,"value":..},...]`. */
function writeTable(w: ByteWriter, buf: Buffer, s: number, e: number): boolean {
  w.byte(0x5b);
  let off = s;
  while (off < e) {
    const nameEnd = off + 1 + buf[off]!;
    if (nameEnd > e || !plain(buf, off + 1, nameEnd)) return false;
    if (off > s) w.byte(0x2c);
    w.bytes(FIELD_NAME);
    w.span(buf, off + 1, nameEnd);
    w.bytes(FIELD_VALUE);
    off = writeValue(w, buf, nameEnd, e);
    if (off < 0) return false;
    w.byte(0x7d);
  }
  w.byte(0x5d);
  return true;
}

/** The typed value at `off` (its tag) within [.., end); returns the offset after it, -1 to give up. */
function writeValue(w: ByteWriter, buf: Buffer, off: number, end: number): number {
  if (off >= end) return -1;
  const tag = buf[off++]!;
  const fixed = FIXED_SIZE[tag] ?? -1;
  if (fixed >= 0 && off + fixed > end) return -1;
  const typed = TYPED[tag];
  switch (tag) {
    case 0x74: // t
      w.bytes(typed!);
      w.bytes(buf[off] !== 0 ? TRUE : FALSE);
      break;
    case 0x62: // b
    case 0x42: // B
    case 0x73: // s
    case 0x75: // u
    case 0x49: // I
    case 0x69: // i
      w.bytes(typed!);
      w.int(integerAt(tag, buf, off));
      break;
    case 0x6c: // l: a decimal string
      w.bytes(typed!);
      w.byte(0x22);
      w.latin1(buf.readBigInt64BE(off).toString());
      w.byte(0x22);
      break;
    case 0x54: {
      // T
      const v = u64(buf, off);
      if (v < 0) return -1;
      w.bytes(typed!);
      w.int(v);
      break;
    }
    case 0x44: // D
      w.bytes(DECIMAL_START);
      w.int(buf.readUInt32BE(off + 1));
      w.bytes(PLACES);
      w.int(buf[off]!);
      w.bytes(DECIMAL_END);
      return off + 5;
    case 0x56: // V
      w.bytes(VOID);
      return off;
    case 0x53: // S
    case 0x78: // x
    case 0x46: // F
    case 0x41: {
      // A
      if (off + 4 > end) return -1;
      const s = off + 4;
      const e = s + buf.readUInt32BE(off);
      if (e > end) return -1;
      w.bytes(typed!);
      if (tag === 0x53) {
        if (!writeQuoted(w, buf, s, e)) return -1;
      } else if (tag === 0x78) {
        w.byte(0x22);
        w.latin1(buf.toString('base64', s, e));
        w.byte(0x22);
      } else if (tag === 0x46) {
        if (!writeTable(w, buf, s, e)) return -1;
      } else if (!writeArray(w, buf, s, e)) return -1;
      w.byte(0x7d);
      return e;
    }
    default:
      // f and d (floats print as the general path prints them), and unknown tags
      return -1;
  }
  w.byte(0x7d);
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

function writeArray(w: ByteWriter, buf: Buffer, s: number, e: number): boolean {
  w.byte(0x5b);
  let off = s;
  while (off < e) {
    if (off > s) w.byte(0x2c);
    off = writeValue(w, buf, off, e);
    if (off < 0) return false;
  }
  w.byte(0x5d);
  return true;
}

/** Bytes after the tag of the fixed-size types, by tag byte. */
const FIXED_SIZE: number[] = [];
for (const [tag, n] of Object.entries({ t: 1, b: 1, B: 1, s: 2, u: 2, I: 4, i: 4, l: 8, T: 8, D: 5, V: 0 })) FIXED_SIZE[tag.charCodeAt(0)] = n;
