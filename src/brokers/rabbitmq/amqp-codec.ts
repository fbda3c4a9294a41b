/**
 * AMQP 0-9-1 basic properties and field tables, decoded from the raw content-header payload so
 * that every header keeps its wire type (amqplib's own decoder turns b/B/s/u/I/i/l/f/d into plain
 * JS numbers, rounds int64 to a double, and reorders integer-like names). Pure: no IO.
 *
 * Type tags are RabbitMQ's (https://www.rabbitmq.com/amqp-0-9-1-errata.html), which amqplib also
 * uses: t b B s u I i l f d D S x A T F V.
 */
import type { AmqpField, AmqpProperties, AmqpValue } from './amqp-types.js';

export class AmqpDecodeError extends Error {}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface DecodeNotes {
  /** Strings (property or longstr) that were not valid UTF-8: kept with U+FFFD replacements. */
  invalidUtf8: string[];
}

function readString(buf: Buffer, start: number, end: number, where: string, notes: DecodeNotes): string {
  if (end > buf.length) throw new AmqpDecodeError(`${where}: length runs past the end`);
  const bytes = buf.subarray(start, end);
  try {
    return utf8.decode(bytes);
  } catch {
    notes.invalidUtf8.push(where);
    return bytes.toString('utf8');
  }
}

/**
 * Decodes the property part of a content header frame: the 16-bit flags and the fields
 * (the payload after class id, weight and body size, i.e. payload.subarray(12)).
 */
export function decodeBasicProperties(buf: Buffer, notes: DecodeNotes = { invalidUtf8: [] }): AmqpProperties {
  if (buf.length < 2) throw new AmqpDecodeError('content header: no property flags');
  const flags = buf.readUInt16BE(0);
  let off = 2;
  const props: AmqpProperties = {};
  const shortstr = (name: string): string => {
    if (off >= buf.length) throw new AmqpDecodeError(`property ${name}: truncated`);
    const len = buf[off]!;
    off++;
    const s = readString(buf, off, off + len, `property ${name}`, notes);
    off += len;
    return s;
  };
  const octet = (name: string): number => {
    if (off >= buf.length) throw new AmqpDecodeError(`property ${name}: truncated`);
    return buf[off++]!;
  };
  if (flags & 0x8000) props.contentType = shortstr('content-type');
  if (flags & 0x4000) props.contentEncoding = shortstr('content-encoding');
  if (flags & 0x2000) {
    if (off + 4 > buf.length) throw new AmqpDecodeError('property headers: truncated');
    const len = buf.readUInt32BE(off);
    off += 4;
    if (off + len > buf.length) throw new AmqpDecodeError('property headers: length runs past the end');
    props.headers = decodeFieldTable(buf.subarray(off, off + len), notes, 'headers');
    off += len;
  }
  if (flags & 0x1000) props.deliveryMode = octet('delivery-mode');
  if (flags & 0x0800) props.priority = octet('priority');
  if (flags & 0x0400) props.correlationId = shortstr('correlation-id');
  if (flags & 0x0200) props.replyTo = shortstr('reply-to');
  if (flags & 0x0100) props.expiration = shortstr('expiration');
  if (flags & 0x0080) props.messageId = shortstr('message-id');
  if (flags & 0x0040) {
    if (off + 8 > buf.length) throw new AmqpDecodeError('property timestamp: truncated');
    props.timestamp = Number(buf.readBigUInt64BE(off));
    off += 8;
  }
  if (flags & 0x0020) props.type = shortstr('type');
  if (flags & 0x0010) props.userId = shortstr('user-id');
  if (flags & 0x0008) props.appId = shortstr('app-id');
  if (flags & 0x0004) props.clusterId = shortstr('cluster-id');
  return props;
}

/** A field table's entries in wire order (names may repeat on the wire; all are kept). */
export function decodeFieldTable(buf: Buffer, notes: DecodeNotes = { invalidUtf8: [] }, where = 'table'): AmqpField[] {
  const fields: AmqpField[] = [];
  let off = 0;
  while (off < buf.length) {
    const nameLen = buf[off]!;
    off++;
    const name = readString(buf, off, off + nameLen, `${where} name`, notes);
    off += nameLen;
    const [value, next] = decodeValue(buf, off, notes, `${where}.${name}`);
    off = next;
    fields.push({ name, value });
  }
  return fields;
}

function need(buf: Buffer, off: number, n: number, where: string): void {
  if (off + n > buf.length) throw new AmqpDecodeError(`${where}: truncated`);
}

function decodeValue(buf: Buffer, off: number, notes: DecodeNotes, where: string): [AmqpValue, number] {
  need(buf, off, 1, where);
  const tag = String.fromCharCode(buf[off]!);
  off++;
  switch (tag) {
    case 't':
      need(buf, off, 1, where);
      return [{ type: 'bool', value: buf[off] !== 0 }, off + 1];
    case 'b':
      need(buf, off, 1, where);
      return [{ type: 'int8', value: buf.readInt8(off) }, off + 1];
    case 'B':
      need(buf, off, 1, where);
      return [{ type: 'uint8', value: buf.readUInt8(off) }, off + 1];
    case 's':
      need(buf, off, 2, where);
      return [{ type: 'int16', value: buf.readInt16BE(off) }, off + 2];
    case 'u':
      need(buf, off, 2, where);
      return [{ type: 'uint16', value: buf.readUInt16BE(off) }, off + 2];
    case 'I':
      need(buf, off, 4, where);
      return [{ type: 'int32', value: buf.readInt32BE(off) }, off + 4];
    case 'i':
      need(buf, off, 4, where);
      return [{ type: 'uint32', value: buf.readUInt32BE(off) }, off + 4];
    case 'l':
      need(buf, off, 8, where);
      return [{ type: 'int64', value: buf.readBigInt64BE(off).toString() }, off + 8];
    case 'f':
      need(buf, off, 4, where);
      return [{ type: 'float', value: buf.readFloatBE(off) }, off + 4];
    case 'd':
      need(buf, off, 8, where);
      return [{ type: 'double', value: buf.readDoubleBE(off) }, off + 8];
    case 'D':
      need(buf, off, 5, where);
      return [{ type: 'decimal', places: buf[off]!, digits: buf.readUInt32BE(off + 1) }, off + 5];
    case 'T':
      need(buf, off, 8, where);
      return [{ type: 'timestamp', value: Number(buf.readBigUInt64BE(off)) }, off + 8];
    case 'S': {
      need(buf, off, 4, where);
      const len = buf.readUInt32BE(off);
      off += 4;
      need(buf, off, len, where);
      return [{ type: 'string', value: readString(buf, off, off + len, where, notes) }, off + len];
    }
    case 'x': {
      need(buf, off, 4, where);
      const len = buf.readUInt32BE(off);
      off += 4;
      need(buf, off, len, where);
      return [{ type: 'bytes', value: buf.subarray(off, off + len).toString('base64') }, off + len];
    }
    case 'F': {
      need(buf, off, 4, where);
      const len = buf.readUInt32BE(off);
      off += 4;
      need(buf, off, len, where);
      return [{ type: 'table', value: decodeFieldTable(buf.subarray(off, off + len), notes, where) }, off + len];
    }
    case 'A': {
      need(buf, off, 4, where);
      const len = buf.readUInt32BE(off);
      off += 4;
      need(buf, off, len, where);
      const end = off + len;
      const items: AmqpValue[] = [];
      let p = off;
      while (p < end) {
        const [v, next] = decodeValue(buf.subarray(0, end), p, notes, `${where}[${items.length}]`);
        items.push(v);
        p = next;
      }
      return [{ type: 'array', value: items }, end];
    }
    case 'V':
      return [{ type: 'void' }, off];
    default:
      throw new AmqpDecodeError(`${where}: unknown field type tag ${JSON.stringify(tag)}`);
  }
}

// ---- encoding (the exact inverse; used by tests and to check what amqplib would send) ----

export function encodeFieldTable(fields: AmqpField[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of fields) {
    const name = Buffer.from(f.name, 'utf8');
    if (name.length > 255) throw new AmqpDecodeError(`field name longer than 255 bytes: ${f.name.slice(0, 40)}...`);
    parts.push(Buffer.from([name.length]), name, encodeValue(f.value));
  }
  return Buffer.concat(parts);
}

function withLength(tag: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(tag, 0, 'latin1');
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

export function encodeValue(v: AmqpValue): Buffer {
  const fixed = (tag: string, n: number, write: (b: Buffer) => void): Buffer => {
    const b = Buffer.alloc(1 + n);
    b.write(tag, 0, 'latin1');
    write(b);
    return b;
  };
  switch (v.type) {
    case 'bool':
      return fixed('t', 1, (b) => b.writeUInt8(v.value ? 1 : 0, 1));
    case 'int8':
      return fixed('b', 1, (b) => b.writeInt8(v.value, 1));
    case 'uint8':
      return fixed('B', 1, (b) => b.writeUInt8(v.value, 1));
    case 'int16':
      return fixed('s', 2, (b) => b.writeInt16BE(v.value, 1));
    case 'uint16':
      return fixed('u', 2, (b) => b.writeUInt16BE(v.value, 1));
    case 'int32':
      return fixed('I', 4, (b) => b.writeInt32BE(v.value, 1));
    case 'uint32':
      return fixed('i', 4, (b) => b.writeUInt32BE(v.value, 1));
    case 'int64':
      return fixed('l', 8, (b) => b.writeBigInt64BE(BigInt(v.value), 1));
    case 'float':
      return fixed('f', 4, (b) => b.writeFloatBE(v.value, 1));
    case 'double':
      return fixed('d', 8, (b) => b.writeDoubleBE(v.value, 1));
    case 'decimal':
      return fixed('D', 5, (b) => {
        b.writeUInt8(v.places, 1);
        b.writeUInt32BE(v.digits, 2);
      });
    case 'timestamp':
      return fixed('T', 8, (b) => b.writeBigUInt64BE(BigInt(v.value), 1));
    case 'string':
      return withLength('S', Buffer.from(v.value, 'utf8'));
    case 'bytes':
      return withLength('x', Buffer.from(v.value, 'base64'));
    case 'table':
      return withLength('F', encodeFieldTable(v.value));
    case 'array':
      return withLength('A', Buffer.concat(v.value.map(encodeValue)));
    case 'void':
      return Buffer.from('V', 'latin1');
  }
}

// ---- to amqplib's publish options ----

/**
 * amqplib's encoder takes `{'!': type, value}` for an explicit type (lib/codec.js
 * encodeFieldValue: byte/int8, unsignedbyte/uint8, short/int16, unsignedshort/uint16, int/int32,
 * unsignedint/uint32, long/int64 (via BigInt(value), so a decimal string stays exact), float,
 * double, timestamp, decimal {places, digits}); strings are always longstr 'S', booleans 't',
 * Buffers 'x', arrays 'A', null 'V' and other objects nested tables 'F'.
 */
export type AmqplibFieldValue = unknown;

export function toAmqplibValue(v: AmqpValue): AmqplibFieldValue {
  switch (v.type) {
    case 'string':
      return v.value;
    case 'bool':
      return v.value;
    case 'bytes':
      return Buffer.from(v.value, 'base64');
    case 'void':
      return null;
    case 'table':
      return toAmqplibTable(v.value);
    case 'array':
      return v.value.map(toAmqplibValue);
    case 'decimal':
      return { '!': 'decimal', value: { places: v.places, digits: v.digits } };
    case 'int8':
    case 'uint8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'uint32':
    case 'int64':
    case 'float':
    case 'double':
    case 'timestamp':
      return { '!': v.type, value: v.value };
  }
}

/**
 * A plain object for amqplib. What an object cannot hold is reported, not hidden: a repeated
 * name (the last one wins), an integer-like name (JS objects put those first, so the wire order
 * changes), a nested table with a field named '!' (amqplib would read it as a type marker).
 */
export function toAmqplibTable(fields: AmqpField[], problems?: string[]): Record<string, AmqplibFieldValue> {
  // no prototype: a header named __proto__ (or constructor, ...) is then a key like any other
  const out = Object.create(null) as Record<string, AmqplibFieldValue>;
  const seen = new Set<string>();
  for (const f of fields) {
    if (seen.has(f.name)) problems?.push(`header ${JSON.stringify(f.name)} appears more than once: only the last is republished`);
    seen.add(f.name);
    if (/^(0|[1-9]\d*)$/.test(f.name) && Number(f.name) < 2 ** 32 - 1) {
      problems?.push(`header ${JSON.stringify(f.name)} is an integer-like name: amqplib republishes it ahead of the others`);
    }
    if (f.value.type === 'table' && f.value.value.some((x) => x.name === '!')) {
      problems?.push(`header ${JSON.stringify(f.name)} is a table holding a field named "!", which amqplib cannot encode faithfully`);
    }
    out[f.name] = toAmqplibValue(f.value);
  }
  return out;
}

/** The value's plain-JS reading, for messages and for comparing with amqplib's own decoding. */
export function plainValue(v: AmqpValue): unknown {
  switch (v.type) {
    case 'table':
      return Object.fromEntries(v.value.map((f) => [f.name, plainValue(f.value)]));
    case 'array':
      return v.value.map(plainValue);
    case 'void':
      return null;
    case 'decimal':
      return { places: v.places, digits: v.digits };
    case 'int64':
      return BigInt(v.value);
    default:
      return v.value;
  }
}
