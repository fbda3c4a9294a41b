/**
 * Reading the record encoding (record-layout.ts; docs/FORMAT.md, "Record encoding") with every
 * check of docs/FORMAT.md section 7: into an ArchiveRecord (decodeRecordAt) or into columns over
 * the block's bytes (decodeRecordColumns), which accept and refuse the same records.
 */
import { MqbakError, messageOf } from '../common/errors.js';
import type { ArchiveRecord, ColumnsBuilder, JsonValue, RecordHeader } from '../common/record.js';
import type { NameCheck } from '../common/utf8-names.js';
import { isUtf8Json } from '../common/utf8-json.js';
import { FIXED_SIZE, NULL_LENGTH, TS_TYPES, TWO_32 } from './record-layout.js';
import type { AttributesCheck } from './attributes-check.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

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
  if (len < FIXED_SIZE - 4 + 16) throw new MqbakError('integrity', `record at raw offset ${offset}: length ${len} is too small`);
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

/** An 'integrity' error about the record at `offset` (its position, read from its bytes, names it). */
function recordError(dv: DataView, offset: number, what: string): MqbakError {
  return new MqbakError('integrity', `record ${dv.getBigInt64(offset + 4, true)}: ${what}`);
}

/**
 * Reads a u32-prefixed field at `o` (ending by `end`) of the record at `at`: its length (-1 for
 * null), start in spanStart.
 */
function readSpanAt(dv: DataView, o: number, end: number, at: number, what: string): number {
  if (o + 4 > end) throw recordError(dv, at, `${what} runs past the record's end`);
  const n = dv.getUint32(o, true);
  spanStart = o + 4;
  if (n === NULL_LENGTH) return -1;
  if (o + 4 + n > end) throw recordError(dv, at, `${what} runs past the record's end`);
  return n;
}

function spanEnd(length: number): number {
  return spanStart + Math.max(length, 0);
}

/**
 * The end of the record at `offset` of buf, or -1 when buf does not hold it whole; throws
 * 'integrity' when its length is too small.
 */
function recordEnd(buf: Uint8Array, dv: DataView, offset: number): number {
  if (buf.length - offset < 4) return -1;
  const len = dv.getUint32(offset, true);
  if (len < FIXED_SIZE - 4 + 16) throw new MqbakError('integrity', `record at raw offset ${offset}: length ${len} is too small`);
  const end = offset + 4 + len;
  return end > buf.length ? -1 : end;
}

/**
 * Checks the record at [offset, end) of buf after its length and position as decodeRecordAt does
 * (timestamp flag and type, every field within bounds, header names UTF-8, nothing left over,
 * attributes UTF-8 JSON, by `checkAttributes` first); with `out`, also notes its timestamp and
 * fields as record i of out.
 */
function checkRecord(
  buf: Uint8Array,
  dv: DataView,
  offset: number,
  end: number,
  checkName: NameCheck,
  out: ColumnsBuilder | null,
  i: number,
  checkAttributes: AttributesCheck,
): void {
  const tsFlag = buf[offset + 12]!;
  if (tsFlag > 1) throw recordError(dv, offset, `bad timestamp flag ${tsFlag}`);
  const tsLo = dv.getUint32(offset + 13, true);
  const tsHi = dv.getInt32(offset + 17, true);
  const tsType = buf[offset + 21]!;
  if (tsType >= TS_TYPES.length) throw recordError(dv, offset, `bad timestamp type ${tsType}`);
  if (tsFlag === 0 && (tsLo !== 0 || tsHi !== 0)) throw recordError(dv, offset, 'timestamp set without its flag');
  if (out !== null) {
    out.timestamp[i] = tsFlag === 1 ? tsHi * TWO_32 + tsLo : NaN;
    out.timestampType[i] = tsType;
  }
  let n = readSpanAt(dv, offset + 22, end, offset, 'key');
  if (out !== null) {
    out.keyStart[i] = spanStart;
    out.keyLength[i] = n;
  }
  n = readSpanAt(dv, spanEnd(n), end, offset, 'value');
  if (out !== null) {
    out.valueStart[i] = spanStart;
    out.valueLength[i] = n;
  }
  let o = spanEnd(n);
  if (o + 4 > end) throw recordError(dv, offset, "header count runs past the record's end");
  const count = dv.getUint32(o, true);
  o += 4;
  if (count > (end - o) / 8) throw recordError(dv, offset, `header count ${count} does not fit`);
  if (out !== null) out.headerStart[i] = out.headers;
  for (let h = 0; h < count; h++) {
    n = readSpanAt(dv, o, end, offset, 'header name');
    if (n < 0) throw recordError(dv, offset, `header ${h} has a null name`);
    if (!checkName(buf, spanStart, n, h)) throw recordError(dv, offset, `header ${h} name is not UTF-8`);
    const nameStart = spanStart;
    const nameLength = n;
    n = readSpanAt(dv, spanEnd(n), end, offset, 'header value');
    if (out !== null) {
      if (out.headers === out.headerNameStart.length) out.growHeaders();
      const x = out.headers++;
      out.headerNameStart[x] = nameStart;
      out.headerNameLength[x] = nameLength;
      out.headerValueStart[x] = spanStart;
      out.headerValueLength[x] = n;
    }
    o = spanEnd(n);
  }
  n = readSpanAt(dv, o, end, offset, 'attributes');
  o = spanEnd(n);
  if (o !== end) throw recordError(dv, offset, `${end - o} bytes left over`);
  // the fast check, and where it says no, decoding and parsing (which says why, or accepts)
  if (n >= 0 && !checkAttributes(buf, spanStart, spanStart + n)) parseAttributes(buf.subarray(spanStart, spanStart + n), dv.getBigInt64(offset + 4, true));
  if (out !== null) {
    out.attributeStart[i] = spanStart;
    out.attributeLength[i] = n;
  }
}

/**
 * Decodes the whole records from `offset` of `buf` into `out` (columns over buf: no object per
 * record), checking each as decodeRecordAt does, and returns the offset of the first record that
 * buf does not hold whole. Positions must be integers of less than 2^53 in magnitude (a larger
 * one throws 'integrity'): read with this only streams whose range is.
 */
export function decodeRecordColumns(buf: Uint8Array, offset: number, dv: DataView, out: ColumnsBuilder, checkName: NameCheck): number {
  for (;;) {
    const end = recordEnd(buf, dv, offset);
    if (end < 0) return offset;
    const position = dv.getInt32(offset + 8, true) * TWO_32 + dv.getUint32(offset + 4, true);
    if (!Number.isSafeInteger(position)) throw new MqbakError('integrity', `record at raw offset ${offset}: position ${dv.getBigInt64(offset + 4, true)} is outside the stream's range`);
    if (out.count === out.position.length) out.growRecords();
    const i = out.count;
    // the attributes are carried as their bytes (columnRecord parses them)
    checkRecord(buf, dv, offset, end, checkName, out, i, isUtf8Json);
    out.position[i] = position;
    out.count++;
    offset = end;
  }
}

/** What scanRecords found in a buffer. */
export interface RecordScan {
  /** Records that end in the buffer. */
  count: number;
  /** The offset of the first record the buffer does not hold whole. */
  next: number;
  /** Position and timestamp of the first and last of them (0n and null when count is 0). */
  firstPosition: bigint;
  lastPosition: bigint;
  firstTimestamp: number | null;
  lastTimestamp: number | null;
}

function timestampAt(buf: Uint8Array, dv: DataView, offset: number): number | null {
  return buf[offset + 12] === 1 ? Number(dv.getBigInt64(offset + 13, true)) : null;
}

/**
 * Checks the whole records of buf as decodeRecordAt does, and that their positions strictly
 * increase from `lastPosition` (null: no record before them), without decoding them: no object
 * and no column per record, any 64-bit position. What verify reads segments with. Throws the
 * 'integrity' messages decodeRecordAt and the segment reader give. `checkAttributes` (e.g. an
 * attributesCheck() kept over a segment's blocks) may only say true where isUtf8Json would.
 */
export function scanRecords(
  buf: Uint8Array,
  dv: DataView,
  checkName: NameCheck,
  lastPosition: bigint | null,
  checkAttributes: AttributesCheck = isUtf8Json,
): RecordScan {
  // positions compared as their high (signed) and low (unsigned) 32 bits: no BigInt per record
  let lastHi = lastPosition === null ? 0 : Number(BigInt.asIntN(32, lastPosition >> 32n));
  let lastLo = lastPosition === null ? 0 : Number(BigInt.asUintN(32, lastPosition));
  let any = lastPosition !== null;
  let firstAt = -1;
  let lastAt = -1;
  let count = 0;
  let offset = 0;
  for (;;) {
    const end = recordEnd(buf, dv, offset);
    if (end < 0) break;
    checkRecord(buf, dv, offset, end, checkName, null, 0, checkAttributes);
    const lo = dv.getUint32(offset + 4, true);
    const hi = dv.getInt32(offset + 8, true);
    if (any && (hi < lastHi || (hi === lastHi && lo <= lastLo))) {
      const before = lastAt < 0 ? lastPosition! : dv.getBigInt64(lastAt + 4, true);
      throw new MqbakError('integrity', `position ${dv.getBigInt64(offset + 4, true)} does not follow ${before}`);
    }
    any = true;
    lastHi = hi;
    lastLo = lo;
    if (firstAt < 0) firstAt = offset;
    lastAt = offset;
    count++;
    offset = end;
  }
  if (count === 0) return { count, next: offset, firstPosition: 0n, lastPosition: 0n, firstTimestamp: null, lastTimestamp: null };
  return {
    count,
    next: offset,
    firstPosition: dv.getBigInt64(firstAt + 4, true),
    lastPosition: dv.getBigInt64(lastAt + 4, true),
    firstTimestamp: timestampAt(buf, dv, firstAt),
    lastTimestamp: timestampAt(buf, dv, lastAt),
  };
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
