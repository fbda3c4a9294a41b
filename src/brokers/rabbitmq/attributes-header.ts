/**
 * The content-header properties of a restored message (flags and fields, as on the wire), written
 * straight from its archived attributes (docs/FORMAT.md 4.5.1, compact canonical JSON), without
 * the JSON values, the AmqpMessageMeta, amqplib's publish options and amqplib's property encoding
 * that the general path (republish.ts, publisher.ts) makes per message. The bytes are those amqplib
 * sends on the general path for the same message.
 *
 * Only the common case is written here: attributes in canonical form (keys in order, no
 * whitespace), strings without JSON escapes, headers of the types string, bytes, bool, the
 * integers, int64, decimal, timestamp, void and arrays of those, whose names are neither
 * integer-like nor repeated nor changed by the restore (broker-owned, CC, BCC), a user-id equal to
 * the connecting user, no cluster-id. Anything else returns null and the caller takes the general
 * path, which also reports and counts what it changes, and refuses what is malformed, as before.
 */
import { BROKER_OWNED_HEADERS, ROUTING_HEADERS } from './publisher.js';
import { ascii, JsonCursor, NOT_COMMON } from './attributes-cursor.js';

/** The basic properties by wire position: flag bit 15 down to 3 (cluster-id, bit 2, is never written here). */
const NAMES = ['contentType', 'contentEncoding', 'headers', 'deliveryMode', 'priority', 'correlationId', 'replyTo', 'expiration', 'messageId', 'timestamp', 'type', 'userId', 'appId'];
const KEYS = NAMES.map(ascii);
const HEADERS = NAMES.indexOf('headers');
const DELIVERY_MODE = NAMES.indexOf('deliveryMode');
const PRIORITY = NAMES.indexOf('priority');
const TIMESTAMP = NAMES.indexOf('timestamp');
const USER_ID = NAMES.indexOf('userId');

const EXCHANGE = ascii('{"exchange":');
const PROPERTIES = ascii(',"properties":{');
const REDELIVERED = ascii('},"redelivered":');
const ROUTING_KEY = ascii(',"routingKey":');
const FIELD_NAME = ascii('{"name":');
const TYPE = ascii('{"type":');
const VALUE = ascii(',"value":');
const DIGITS = ascii('{"digits":');
const PLACES = ascii(',"places":');
const DECIMAL_END = ascii(',"type":"decimal"}');
const VOID = ascii('"void"}');
const TRUE = ascii('true');
const FALSE = ascii('false');

/** AMQP tag and byte size of the fixed-size integer types, by the type's name in the archive. */
const INTEGERS: ReadonlyArray<{ name: Uint8Array; tag: number; min: number; max: number; size: number }> = [
  { name: ascii('"int8"'), tag: 0x62, min: -128, max: 127, size: 1 },
  { name: ascii('"uint8"'), tag: 0x42, min: 0, max: 255, size: 1 },
  { name: ascii('"int16"'), tag: 0x73, min: -32768, max: 32767, size: 2 },
  { name: ascii('"uint16"'), tag: 0x75, min: 0, max: 65535, size: 2 },
  { name: ascii('"int32"'), tag: 0x49, min: -(2 ** 31), max: 2 ** 31 - 1, size: 4 },
  { name: ascii('"uint32"'), tag: 0x69, min: 0, max: 2 ** 32 - 1, size: 4 },
];
const STRING = ascii('"string"');
const BYTES = ascii('"bytes"');
const BOOL = ascii('"bool"');
const INT64 = ascii('"int64"');
const TIMESTAMP_TYPE = ascii('"timestamp"');
const ARRAY = ascii('"array"');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** The most property bytes written here; larger ones take the general path (amqplib's own limit is 64 KiB). */
const MAX_PROPERTIES = 32 * 1024;

export interface HeaderRules {
  /** The connecting user's name as UTF-8: a user-id equal to it is kept as it is. */
  user: Uint8Array;
  /** --via-exchange keeps CC and BCC (and routes by the archived exchange: not written here). */
  viaExchange: boolean;
}

/**
 * Writes the properties of attributes bytes [start, end) of `src`; returns a view of them (valid
 * until the next call), or null when this message is not the common case.
 */
export function republishedProperties(src: Uint8Array, start: number, end: number, rules: HeaderRules): Buffer | null {
  if (rules.viaExchange) return null;
  reader.reset(src, start, end, rules);
  try {
    return reader.attributes();
  } catch (e) {
    if (e === NOT_COMMON) return null;
    throw e;
  }
}

// one output buffer per process: the caller copies the bytes out before the next message
const out = Buffer.allocUnsafe(MAX_PROPERTIES + 16);
/** The most headers of one message written here. */
const MAX_NAMES = 64;

class Reader extends JsonCursor {
  private rules: HeaderRules = { user: new Uint8Array(0), viaExchange: false };
  private o = 0;
  /** Per property (wire position): the JSON string's bytes [s, e), or 0 for a number; -1 when absent. */
  private readonly spanStart = new Int32Array(NAMES.length);
  private readonly spanEnd = new Int32Array(NAMES.length);
  private readonly numbers = new Float64Array(NAMES.length);
  /** The headers' field table, already written to `out` at its place: [headersAt, headersEnd). */
  private headersAt = -1;
  private headersEnd = -1;
  /** The header names seen so far: src[nameStart[k], nameEnd[k]). */
  private readonly nameStart = new Int32Array(MAX_NAMES);
  private readonly nameEnd = new Int32Array(MAX_NAMES);

  reset(src: Uint8Array, start: number, end: number, rules: HeaderRules): void {
    this.src = src;
    this.p = start;
    this.end = end;
    this.rules = rules;
    this.spanStart.fill(-1);
    this.headersAt = -1;
  }

  attributes(): Buffer {
    this.expect(EXCHANGE);
    this.string();
    this.expect(PROPERTIES);
    this.properties();
    this.expect(REDELIVERED);
    if (!this.accept(TRUE)) this.expect(FALSE);
    this.expect(ROUTING_KEY);
    this.string();
    this.expect1(0x7d);
    if (this.p !== this.end) this.fail();
    return this.write();
  }

  /** The members of "properties" up to its closing brace (not consumed), in canonical order. */
  private properties(): void {
    if (this.src[this.p] === 0x7d) return;
    let last = '';
    for (;;) {
      const i = this.key();
      const name = NAMES[i]!;
      if (name <= last) this.fail();
      last = name;
      if (i === HEADERS) {
        // content-type and content-encoding, the only properties before the headers on the wire,
        // also sort before them: the table goes to its place in the output now
        let at = 2;
        for (let k = 0; k < HEADERS; k++) if (this.spanStart[k]! >= 0) at += 1 + this.spanEnd[k]! - this.spanStart[k]!;
        this.o = at + 4;
        this.table();
        out.writeUInt32BE(this.o - at - 4, at);
        this.headersAt = at;
        this.headersEnd = this.o;
      } else if (i === DELIVERY_MODE || i === PRIORITY) {
        this.numbers[i] = this.integer(0, 255);
        this.spanStart[i] = 0;
      } else if (i === TIMESTAMP) {
        this.numbers[i] = this.integer(0, Number.MAX_SAFE_INTEGER);
        this.spanStart[i] = 0;
      } else {
        const s = this.string();
        const e = this.p - 1;
        if (e - s > 255) this.fail();
        this.spanStart[i] = s;
        this.spanEnd[i] = e;
        if (i === USER_ID && !this.equals(s, e, this.rules.user)) this.fail();
      }
      if (this.src[this.p] !== 0x2c) return;
      this.p++;
    }
  }

  /** A property key `"name":`; returns its wire position. */
  private key(): number {
    const s = this.string();
    const e = this.p - 1;
    this.expect1(0x3a);
    for (let i = 0; i < KEYS.length; i++) if (this.equals(s, e, KEYS[i]!)) return i;
    // cluster-id and unknown keys: the general path
    return this.fail();
  }

  private write(): Buffer {
    this.o = 2;
    let flags = 0;
    for (let i = 0; i < NAMES.length; i++) {
      if (i === HEADERS) {
        if (this.headersAt < 0) continue;
        flags |= 0x8000 >> i;
        this.o = this.headersEnd;
        continue;
      }
      if (this.spanStart[i]! < 0) continue;
      flags |= 0x8000 >> i;
      if (i === DELIVERY_MODE || i === PRIORITY) {
        this.room(1);
        out[this.o++] = this.numbers[i]!;
      } else if (i === TIMESTAMP) {
        this.u64(this.numbers[i]!);
      } else {
        const s = this.spanStart[i]!;
        const e = this.spanEnd[i]!;
        this.room(1 + e - s);
        out[this.o++] = e - s;
        this.copy(s, e);
      }
    }
    out.writeUInt16BE(flags, 0);
    return out.subarray(0, this.o);
  }

  /** `[{"name":..,"value":..},..]` as field-table entries (no length). */
  private table(): void {
    this.expect1(0x5b);
    let n = 0;
    while (this.src[this.p] !== 0x5d) {
      if (n > 0) this.expect1(0x2c);
      this.expect(FIELD_NAME);
      const s = this.string();
      const e = this.p - 1;
      this.checkName(s, e, n);
      if (n === MAX_NAMES) this.fail();
      this.nameStart[n] = s;
      this.nameEnd[n++] = e;
      this.room(1 + e - s);
      out[this.o++] = e - s;
      this.copy(s, e);
      this.expect(VALUE);
      this.value();
      this.expect1(0x7d);
    }
    this.p++;
  }

  /** Names the general path would change, reorder or report: not written here. */
  private checkName(s: number, e: number, seen: number): void {
    const src = this.src;
    if (e - s > 255 || e === s) this.fail();
    const c = src[s]!;
    // integer-like names (amqplib puts those first) and what the restore may rename
    if (c >= 0x30 && c <= 0x39) this.fail();
    if (c === 0x78 || c === 0x43 || c === 0x42) {
      const name = Buffer.from(src.buffer, src.byteOffset + s, e - s).toString('utf8');
      // (with --via-exchange, CC and BCC would be kept: republishedProperties leaves those messages to the general path)
      if (BROKER_OWNED_HEADERS.test(name) || ROUTING_HEADERS.test(name)) this.fail();
    }
    for (let k = 0; k < seen; k++) {
      const ps = this.nameStart[k]!;
      if (this.nameEnd[k]! - ps === e - s && this.equals(s, e, src.subarray(ps, this.nameEnd[k]!))) this.fail();
    }
  }

  /** A typed value `{"type":..,"value":..}` with its AMQP tag. */
  private value(): void {
    if (this.accept(DIGITS)) {
      const digits = this.integer(0, 2 ** 32 - 1);
      this.expect(PLACES);
      const places = this.integer(0, 255);
      this.expect(DECIMAL_END);
      this.room(6);
      out[this.o++] = 0x44;
      out[this.o++] = places;
      out.writeUInt32BE(digits, this.o);
      this.o += 4;
      return;
    }
    this.expect(TYPE);
    if (this.accept(VOID)) {
      this.room(1);
      out[this.o++] = 0x56;
      return;
    }
    const typeAt = this.p;
    this.string();
    const type = this.src.subarray(typeAt, this.p);
    this.expect(VALUE);
    this.typed(type);
    this.expect1(0x7d);
  }

  private typed(type: Uint8Array): void {
    const is = (name: Uint8Array): boolean => this.equals(0, type.length, name, type);
    if (is(STRING)) {
      const s = this.string();
      const e = this.p - 1;
      this.room(5 + e - s);
      out[this.o] = 0x53;
      out.writeUInt32BE(e - s, this.o + 1);
      this.o += 5;
      this.copy(s, e);
      return;
    }
    for (const t of INTEGERS) {
      if (!is(t.name)) continue;
      const v = this.integer(t.min, t.max);
      this.room(1 + t.size);
      out[this.o++] = t.tag;
      if (t.size === 1) out[this.o] = v & 0xff;
      else if (t.size === 2) out.writeUInt16BE(v & 0xffff, this.o);
      else out.writeUInt32BE(v >>> 0, this.o);
      this.o += t.size;
      return;
    }
    if (is(BOOL)) {
      this.room(2);
      out[this.o++] = 0x74;
      if (this.accept(TRUE)) out[this.o++] = 1;
      else {
        this.expect(FALSE);
        out[this.o++] = 0;
      }
      return;
    }
    if (is(TIMESTAMP_TYPE)) {
      const v = this.integer(0, Number.MAX_SAFE_INTEGER);
      this.room(1);
      out[this.o++] = 0x54;
      this.u64(v);
      return;
    }
    if (is(INT64)) {
      const s = this.string();
      const text = this.latin1(s, this.p - 1);
      if (!/^-?(0|[1-9][0-9]{0,18})$/.test(text)) this.fail();
      const v = BigInt(text);
      if (v < INT64_MIN || v > INT64_MAX) this.fail();
      this.room(9);
      out[this.o++] = 0x6c;
      out.writeBigInt64BE(v, this.o);
      this.o += 8;
      return;
    }
    if (is(BYTES)) {
      const s = this.string();
      for (let k = s; k < this.p - 1; k++) if (this.src[k]! >= 0x80) this.fail();
      const bytes = Buffer.from(this.latin1(s, this.p - 1), 'base64');
      this.room(5 + bytes.length);
      out[this.o] = 0x78;
      out.writeUInt32BE(bytes.length, this.o + 1);
      this.o += 5;
      this.o += bytes.copy(out, this.o);
      return;
    }
    if (is(ARRAY)) {
      this.expect1(0x5b);
      this.room(5);
      out[this.o] = 0x41;
      const at = this.o + 1;
      this.o += 5;
      let first = true;
      while (this.src[this.p] !== 0x5d) {
        if (!first) this.expect1(0x2c);
        first = false;
        this.value();
      }
      this.p++;
      out.writeUInt32BE(this.o - at - 4, at);
      return;
    }
    // float and double (the archive's spelling of NaN and infinities), tables, unknown types
    this.fail();
  }

  private u64(v: number): void {
    this.room(8);
    out.writeUInt32BE(Math.floor(v / 2 ** 32), this.o);
    out.writeUInt32BE(v >>> 0, this.o + 4);
    this.o += 8;
  }

  private copy(s: number, e: number): void {
    out.set(this.src.subarray(s, e), this.o);
    this.o += e - s;
  }

  private room(n: number): void {
    if (this.o + n > MAX_PROPERTIES) this.fail();
  }

}

const reader = new Reader();
