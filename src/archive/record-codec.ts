/**
 * The binary encoding of one ArchiveRecord (docs/FORMAT.md, "Record encoding"). All integers
 * little-endian; every variable field is length-prefixed; the length 0xFFFFFFFF means null, so
 * null stays distinct from empty.
 *
 *   u32  length of the rest of the record
 *   i64  position
 *   u8   timestamp flag (0 none, 1 present)      i64 timestamp (ms since epoch, 0 when none)
 *   u8   timestamp type (0 unknown, 1 create, 2 log-append)
 *   u32+ key      u32+ value
 *   u32  header count, then per header: u32+ name (UTF-8, never null), u32+ value
 *   u32+ attributes: canonical compact JSON of ArchiveRecord.attributes (UTF-8), or null
 */
import { MqbakError, messageOf } from '../common/errors.js';
import type { ArchiveRecord, ColumnsBuilder, JsonValue, RecordColumns, RecordHeader, TimestampType } from '../common/record.js';
import { canonicalJson } from '../common/canonical-json.js';
import { utf8Name, type NameCheck } from '../common/utf8-names.js';

export const NULL_LENGTH = 0xffffffff;
const FIXED = 4 + 8 + 1 + 8 + 1;
const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

const TS_TYPES: Array<TimestampType | null> = [null, 'create', 'log-append'];
const NO_NAMES: Uint8Array[] = [];

/** A record checked and measured, ready to be written with writeRecord. */
export interface PreparedRecord {
  record: ArchiveRecord;
  /** Encoded size in bytes, the length prefix included. */
  size: number;
  tsType: number;
  names: Uint8Array[];
  attributes: Uint8Array | null;
}

export function prepareRecord(r: ArchiveRecord): PreparedRecord {
  if (typeof r.position !== 'bigint' || r.position < -(2n ** 63n) || r.position >= 2n ** 63n) {
    throw new MqbakError('internal', `record position ${String(r.position)} is not an int64`);
  }
  if (r.timestamp !== null && !Number.isSafeInteger(r.timestamp)) {
    throw new MqbakError('internal', `record ${r.position}: timestamp ${r.timestamp} is not an integer`);
  }
  const tsType = TS_TYPES.indexOf(r.timestampType);
  if (tsType < 0) throw new MqbakError('internal', `record ${r.position}: unknown timestamp type ${String(r.timestampType)}`);
  const names = r.headers.length === 0 ? NO_NAMES : r.headers.map((h) => utf8Name(h.name));
  const attributes = r.attributes === null ? null : utf8.encode(attributesJson(r));
  let size = FIXED + 4 + (r.key?.length ?? 0) + 4 + (r.value?.length ?? 0) + 4 + 4 + (attributes?.length ?? 0);
  for (let i = 0; i < names.length; i++) size += 4 + names[i]!.length + 4 + (r.headers[i]!.value?.length ?? 0);
  if (size - 4 >= NULL_LENGTH) throw new MqbakError('internal', `record ${r.position}: ${size} bytes is too large`);
  return { record: r, size, tsType, names, attributes };
}

function attributesJson(r: ArchiveRecord): string {
  try {
    return canonicalJson(r.attributes);
  } catch (e) {
    throw new MqbakError('internal', `record ${r.position}: attributes: ${messageOf(e)}`);
  }
}

/**
 * Writes a prepared record at `offset` of `out` (which must have room for p.size bytes) and
 * returns the offset after it. Writing into one block buffer instead of allocating a buffer per
 * record is what makes the writer fast (small typed-array allocations cost microseconds each).
 */
export function writeRecord(p: PreparedRecord, out: Uint8Array, dv: DataView, offset: number): number {
  const r = p.record;
  let o = offset;
  dv.setUint32(o, p.size - 4, true);
  dv.setBigInt64(o + 4, r.position, true);
  out[o + 12] = r.timestamp === null ? 0 : 1;
  dv.setBigInt64(o + 13, BigInt(r.timestamp ?? 0), true);
  out[o + 21] = p.tsType;
  o = writeBytes(out, dv, o + 22, r.key);
  o = writeBytes(out, dv, o, r.value);
  dv.setUint32(o, r.headers.length, true);
  o += 4;
  for (let i = 0; i < p.names.length; i++) {
    o = writeBytes(out, dv, o, p.names[i]!);
    o = writeBytes(out, dv, o, r.headers[i]!.value);
  }
  o = writeBytes(out, dv, o, p.attributes);
  if (o - offset !== p.size) throw new MqbakError('internal', `record ${r.position}: encoded ${o - offset} of ${p.size} bytes`);
  return o;
}

// module-level rather than a closure per record: this runs for every field of every record
function writeBytes(out: Uint8Array, dv: DataView, o: number, b: Uint8Array | null): number {
  if (b === null) {
    dv.setUint32(o, NULL_LENGTH, true);
    return o + 4;
  }
  dv.setUint32(o, b.length, true);
  out.set(b, o + 4);
  return o + 4 + b.length;
}

/** Encoded size of record i of the columns (see RecordColumns), the length prefix included. */
export function columnRecordSize(c: RecordColumns, i: number): number {
  let size = FIXED + 4 + Math.max(c.keyLength[i]!, 0) + 4 + Math.max(c.valueLength[i]!, 0) + 4 + 4 + Math.max(c.attributeLength[i]!, 0);
  for (let h = c.headerStart[i]!, e = c.headerStart[i + 1]!; h < e; h++) size += 8 + c.headerNameLength[h]! + Math.max(c.headerValueLength[h]!, 0);
  return size;
}

const TWO_32 = 2 ** 32;

/** An integer number (|v| < 2^53) as a little-endian int64, without a BigInt. */
function setInt64(dv: DataView, o: number, v: number): void {
  const lo = v >>> 0;
  dv.setUint32(o, lo, true);
  dv.setInt32(o + 4, (v - lo) / TWO_32, true);
}

function writeSpan(out: Uint8Array, dv: DataView, o: number, src: Uint8Array, start: number, length: number): number {
  if (length < 0) {
    dv.setUint32(o, NULL_LENGTH, true);
    return o + 4;
  }
  dv.setUint32(o, length, true);
  o += 4;
  // short fields (header names and values, keys) byte by byte: cheaper than a subarray each
  if (length < 48) for (let k = 0; k < length; k++) out[o + k] = src[start + k]!;
  else out.set(src.subarray(start, start + length), o);
  return o + length;
}

/**
 * Writes record i of the columns, `size` bytes (columnRecordSize), at `offset` of `out`: the
 * same bytes writeRecord writes for columnRecord(c, i). Returns the offset after it.
 */
export function writeColumnRecord(c: RecordColumns, i: number, size: number, out: Uint8Array, dv: DataView, offset: number): number {
  const src = c.bytes;
  const ts = c.timestamp[i]!;
  dv.setUint32(offset, size - 4, true);
  setInt64(dv, offset + 4, c.position[i]!);
  if (Number.isNaN(ts)) {
    out[offset + 12] = 0;
    setInt64(dv, offset + 13, 0);
  } else {
    out[offset + 12] = 1;
    setInt64(dv, offset + 13, ts);
  }
  out[offset + 21] = c.timestampType[i]!;
  let o = writeSpan(out, dv, offset + 22, src, c.keyStart[i]!, c.keyLength[i]!);
  o = writeSpan(out, dv, o, src, c.valueStart[i]!, c.valueLength[i]!);
  const h0 = c.headerStart[i]!;
  const h1 = c.headerStart[i + 1]!;
  dv.setUint32(o, h1 - h0, true);
  o += 4;
  for (let h = h0; h < h1; h++) {
    o = writeSpan(out, dv, o, src, c.headerNameStart[h]!, c.headerNameLength[h]!);
    o = writeSpan(out, dv, o, src, c.headerValueStart[h]!, c.headerValueLength[h]!);
  }
  o = writeSpan(out, dv, o, src, c.attributeStart[i]!, c.attributeLength[i]!);
  if (o - offset !== size) throw new MqbakError('internal', `record ${c.position[i]}: encoded ${o - offset} of ${size} bytes`);
  return o;
}

export function encodeRecord(r: ArchiveRecord): Uint8Array {
  const p = prepareRecord(r);
  const out = new Uint8Array(p.size);
  writeRecord(p, out, new DataView(out.buffer), 0);
  return out;
}

/**
 * Decodes the record starting at `offset` of `buf`. Returns null when `buf` does not yet hold the
 * whole record (the caller appends the next block); throws 'integrity' when it is malformed.
 */
export function decodeRecordAt(
  buf: Uint8Array,
  offset: number,
  dv: DataView = new DataView(buf.buffer, buf.byteOffset, buf.byteLength),
): { record: ArchiveRecord; next: number } | null {
  if (buf.length - offset < 4) return null;
  const len = dv.getUint32(offset, true);
  if (len < FIXED - 4 + 16) throw new MqbakError('integrity', `record at raw offset ${offset}: length ${len} is too small`);
  const end = offset + 4 + len;
  if (end > buf.length) return null;
  let o = offset + 4;
  const position = dv.getBigInt64(o, true);
  o += 8;
  const tsFlag = buf[o++]!;
  if (tsFlag > 1) throw new MqbakError('integrity', `record ${position}: bad timestamp flag ${tsFlag}`);
  const tsRaw = dv.getBigInt64(o, true);
  o += 8;
  const tsTypeIndex = buf[o++]!;
  const timestampType = TS_TYPES[tsTypeIndex];
  if (timestampType === undefined) throw new MqbakError('integrity', `record ${position}: bad timestamp type ${tsTypeIndex}`);
  if (tsFlag === 0 && tsRaw !== 0n) throw new MqbakError('integrity', `record ${position}: timestamp set without its flag`);
  const cur: Cursor = { o, end, position };
  const key = readBytes(buf, dv, cur, 'key');
  const value = readBytes(buf, dv, cur, 'value');
  if (cur.o + 4 > end) throw new MqbakError('integrity', `record ${position}: header count runs past the record's end`);
  const count = dv.getUint32(cur.o, true);
  cur.o += 4;
  if (count > (end - cur.o) / 8) throw new MqbakError('integrity', `record ${position}: header count ${count} does not fit`);
  const headers: RecordHeader[] = [];
  for (let i = 0; i < count; i++) {
    const name = readBytes(buf, dv, cur, 'header name');
    if (name === null) throw new MqbakError('integrity', `record ${position}: header ${i} has a null name`);
    headers.push({ name: headerNameText(name, i, position), value: readBytes(buf, dv, cur, 'header value') });
  }
  const attributeBytes = readBytes(buf, dv, cur, 'attributes');
  if (cur.o !== end) throw new MqbakError('integrity', `record ${position}: ${end - cur.o} bytes left over`);
  const attributes = attributeBytes === null ? null : parseAttributes(attributeBytes, position);
  const timestamp = tsFlag === 1 ? Number(tsRaw) : null;
  return { record: { position, timestamp, timestampType, key, value, headers, attributes }, next: end };
}

/**
 * The attributes part's JSON (docs/FORMAT.md, "Attributes part"). Only its being JSON is checked
 * here: what it holds is the adapter's to check when it uses it.
 */
function parseAttributes(bytes: Uint8Array, position: number | bigint): JsonValue {
  try {
    return JSON.parse(utf8Strict.decode(bytes)) as JsonValue;
  } catch (e) {
    throw new MqbakError('integrity', `record ${position}: attributes: ${messageOf(e)}`);
  }
}

// where the last field readSpanAt read starts (its length is what it returns)
let spanStart = 0;

/** Reads a u32-prefixed field at `o` (ending by `end`): its length (-1 for null), start in spanStart. */
function readSpanAt(dv: DataView, o: number, end: number, position: number, what: string): number {
  if (o + 4 > end) throw new MqbakError('integrity', `record ${position}: ${what} runs past the record's end`);
  const n = dv.getUint32(o, true);
  spanStart = o + 4;
  if (n === NULL_LENGTH) return -1;
  if (o + 4 + n > end) throw new MqbakError('integrity', `record ${position}: ${what} runs past the record's end`);
  return n;
}

function spanEnd(length: number): number {
  return spanStart + Math.max(length, 0);
}

/**
 * Decodes the whole records from `offset` of `buf` into `out` (columns over buf: no object per
 * record), checking each as decodeRecordAt does, and returns the offset of the first record that
 * buf does not hold whole. Positions must be integers of less than 2^53 in magnitude (a larger
 * one throws 'integrity'): read with this only streams whose range is.
 */
export function decodeRecordColumns(buf: Uint8Array, offset: number, dv: DataView, out: ColumnsBuilder, checkName: NameCheck): number {
  for (;;) {
    if (buf.length - offset < 4) return offset;
    const len = dv.getUint32(offset, true);
    if (len < FIXED - 4 + 16) throw new MqbakError('integrity', `record at raw offset ${offset}: length ${len} is too small`);
    const end = offset + 4 + len;
    if (end > buf.length) return offset;
    const position = dv.getInt32(offset + 8, true) * TWO_32 + dv.getUint32(offset + 4, true);
    if (!Number.isSafeInteger(position)) throw new MqbakError('integrity', `record at raw offset ${offset}: position ${dv.getBigInt64(offset + 4, true)} is outside the stream's range`);
    const tsFlag = buf[offset + 12]!;
    if (tsFlag > 1) throw new MqbakError('integrity', `record ${position}: bad timestamp flag ${tsFlag}`);
    const tsLo = dv.getUint32(offset + 13, true);
    const tsHi = dv.getInt32(offset + 17, true);
    const tsType = buf[offset + 21]!;
    if (tsType >= TS_TYPES.length) throw new MqbakError('integrity', `record ${position}: bad timestamp type ${tsType}`);
    if (tsFlag === 0 && (tsLo !== 0 || tsHi !== 0)) throw new MqbakError('integrity', `record ${position}: timestamp set without its flag`);
    if (out.count === out.position.length) out.growRecords();
    const i = out.count;
    out.position[i] = position;
    out.timestamp[i] = tsFlag === 1 ? tsHi * TWO_32 + tsLo : NaN;
    out.timestampType[i] = tsType;
    let n = readSpanAt(dv, offset + 22, end, position, 'key');
    out.keyStart[i] = spanStart;
    out.keyLength[i] = n;
    n = readSpanAt(dv, spanEnd(n), end, position, 'value');
    out.valueStart[i] = spanStart;
    out.valueLength[i] = n;
    let o = spanEnd(n);
    if (o + 4 > end) throw new MqbakError('integrity', `record ${position}: header count runs past the record's end`);
    const count = dv.getUint32(o, true);
    o += 4;
    if (count > (end - o) / 8) throw new MqbakError('integrity', `record ${position}: header count ${count} does not fit`);
    out.headerStart[i] = out.headers;
    for (let h = 0; h < count; h++) {
      n = readSpanAt(dv, o, end, position, 'header name');
      if (n < 0) throw new MqbakError('integrity', `record ${position}: header ${h} has a null name`);
      if (!checkName(buf, spanStart, n, h)) throw new MqbakError('integrity', `record ${position}: header ${h} name is not UTF-8`);
      if (out.headers === out.headerNameStart.length) out.growHeaders();
      const x = out.headers++;
      out.headerNameStart[x] = spanStart;
      out.headerNameLength[x] = n;
      n = readSpanAt(dv, spanEnd(n), end, position, 'header value');
      out.headerValueStart[x] = spanStart;
      out.headerValueLength[x] = n;
      o = spanEnd(n);
    }
    n = readSpanAt(dv, o, end, position, 'attributes');
    o = spanEnd(n);
    if (o !== end) throw new MqbakError('integrity', `record ${position}: ${end - o} bytes left over`);
    // carried as their bytes (columnRecord parses them), checked here as the record decoder does
    if (n >= 0) parseAttributes(buf.subarray(spanStart, spanStart + n), position);
    out.attributeStart[i] = spanStart;
    out.attributeLength[i] = n;
    out.count++;
    offset = end;
  }
}

// Header names repeat at the same place from record to record: the text decoded for header i of
// the previous record is reused when the bytes are the same (a byte comparison, no decoding).
const lastNames: Array<{ bytes: Uint8Array; text: string } | undefined> = [];

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function headerNameText(name: Uint8Array, i: number, position: bigint): string {
  const last = lastNames[i];
  if (last !== undefined && sameBytes(last.bytes, name)) return last.text;
  let text: string;
  try {
    text = utf8Strict.decode(name);
  } catch {
    throw new MqbakError('integrity', `record ${position}: header ${i} name is not UTF-8`);
  }
  // a copy: the name's block buffer is not kept alive by the cache
  if (i < 64) lastNames[i] = { bytes: Uint8Array.from(name), text };
  return text;
}

interface Cursor {
  o: number;
  end: number;
  position: bigint;
}

function readBytes(buf: Uint8Array, dv: DataView, cur: Cursor, what: string): Uint8Array | null {
  if (cur.o + 4 > cur.end) throw new MqbakError('integrity', `record ${cur.position}: ${what} runs past the record's end`);
  const n = dv.getUint32(cur.o, true);
  cur.o += 4;
  if (n === NULL_LENGTH) return null;
  if (cur.o + n > cur.end) throw new MqbakError('integrity', `record ${cur.position}: ${what} runs past the record's end`);
  // a view, not a copy: copying every key and value halves the read speed; the block buffer
  // lives as long as a record of it is kept
  const b = buf.subarray(cur.o, cur.o + n);
  cur.o += n;
  return b;
}
