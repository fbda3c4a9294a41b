/**
 * Writing the record encoding (record-layout.ts; docs/FORMAT.md, "Record encoding"), straight into
 * a block buffer: from an ArchiveRecord (prepareRecord, then writeRecord) or from record i of
 * columns (columnRecordSize, then writeColumnRecord), the same bytes either way.
 */
import { MqbakError, messageOf } from '../common/errors.js';
import type { ArchiveRecord, RecordColumns } from '../common/record.js';
import { canonicalJson } from '../common/canonical-json.js';
import { utf8Name } from '../common/utf8-names.js';
import { FIXED_SIZE, NULL_LENGTH, TS_TYPES, TWO_32 } from './record-layout.js';

const utf8 = new TextEncoder();
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
  let size = FIXED_SIZE + 4 + (r.key?.length ?? 0) + 4 + (r.value?.length ?? 0) + 4 + 4 + (attributes?.length ?? 0);
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
  let size = FIXED_SIZE + 4 + Math.max(c.keyLength[i]!, 0) + 4 + Math.max(c.valueLength[i]!, 0) + 4 + 4 + Math.max(c.attributeLength[i]!, 0);
  for (let h = c.headerStart[i]!, e = c.headerStart[i + 1]!; h < e; h++) size += 8 + c.headerNameLength[h]! + Math.max(c.headerValueLength[h]!, 0);
  return size;
}

/** An integer number (|v| < 2^53) as a little-endian int64, without a BigInt. */
function setInt64(dv: DataView, o: number, v: number): void {
  const lo = v >>> 0;
  dv.setUint32(o, lo, true);
  dv.setInt32(o + 4, (v - lo) / TWO_32, true);
}

/** Spans up to this long are copied by 4-byte words; longer ones by one native copy. */
const SHORT_SPAN = 64;

/**
 * Writes a length-prefixed span of the columns' bytes `src`, the bytes viewOfBytes was last given
 * (`sv` its view). No view of the span is made for a short one (header names and values, keys):
 * making it costs more than the copy; a long one (a value) is copied natively through a plain
 * Uint8Array over it, cheaper to make than Buffer.subarray's (docs/PERFORMANCE.md, "The backup's
 * main thread per record").
 */
function writeSpan(out: Uint8Array, dv: DataView, o: number, src: Uint8Array, sv: DataView, start: number, length: number): number {
  if (length < 0) {
    dv.setUint32(o, NULL_LENGTH, true);
    return o + 4;
  }
  dv.setUint32(o, length, true);
  o += 4;
  if (length <= SHORT_SPAN) {
    let k = 0;
    for (; k + 4 <= length; k += 4) dv.setUint32(o + k, sv.getUint32(start + k));
    for (; k < length; k++) out[o + k] = src[start + k]!;
  } else out.set(new Uint8Array(viewedBuffer, viewedOffset + start, length), o);
  return o + length;
}

/**
 * The last columns' bytes, their DataView, buffer and offset: the records of one set of columns
 * are written one after the other, so these are read once per set rather than once per record.
 */
let viewed: Uint8Array | null = null;
let viewOf: DataView = new DataView(new ArrayBuffer(0));
let viewedBuffer: ArrayBufferLike = new ArrayBuffer(0);
let viewedOffset = 0;

function viewOfBytes(src: Uint8Array): DataView {
  if (src !== viewed) {
    viewOf = new DataView(src.buffer, src.byteOffset, src.byteLength);
    viewedBuffer = src.buffer;
    viewedOffset = src.byteOffset;
    viewed = src;
  }
  return viewOf;
}

/**
 * Writes record i of the columns, `size` bytes (columnRecordSize), at `offset` of `out`: the
 * same bytes writeRecord writes for columnRecord(c, i). Returns the offset after it.
 */
export function writeColumnRecord(c: RecordColumns, i: number, size: number, out: Uint8Array, dv: DataView, offset: number): number {
  const src = c.bytes;
  const sv = viewOfBytes(src);
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
  let o = writeSpan(out, dv, offset + 22, src, sv, c.keyStart[i]!, c.keyLength[i]!);
  o = writeSpan(out, dv, o, src, sv, c.valueStart[i]!, c.valueLength[i]!);
  const h0 = c.headerStart[i]!;
  const h1 = c.headerStart[i + 1]!;
  dv.setUint32(o, h1 - h0, true);
  o += 4;
  for (let h = h0; h < h1; h++) {
    o = writeSpan(out, dv, o, src, sv, c.headerNameStart[h]!, c.headerNameLength[h]!);
    o = writeSpan(out, dv, o, src, sv, c.headerValueStart[h]!, c.headerValueLength[h]!);
  }
  o = writeSpan(out, dv, o, src, sv, c.attributeStart[i]!, c.attributeLength[i]!);
  if (o - offset !== size) throw new MqbakError('internal', `record ${c.position[i]}: encoded ${o - offset} of ${size} bytes`);
  return o;
}

export function encodeRecord(r: ArchiveRecord): Uint8Array {
  const p = prepareRecord(r);
  const out = new Uint8Array(p.size);
  writeRecord(p, out, new DataView(out.buffer), 0);
  return out;
}
