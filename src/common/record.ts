import { canonicalJson } from './canonical-json.js';

/**
 * The record as the archive keeps it: everything needed to republish it faithfully.
 * Brokers produce these, the archive encodes them (docs/FORMAT.md), restore republishes them.
 */
export interface ArchiveRecord {
  /**
   * Source position. Kafka: the offset. RabbitMQ stream queue: the stream offset. RabbitMQ
   * classic or quorum queue: the delivery sequence within the backup (0, 1, 2, ...).
   */
  position: bigint;
  /** Milliseconds since the epoch, or null when the source gave none. */
  timestamp: number | null;
  /** Kafka: 'create' or 'log-append'; null when unknown. */
  timestampType: TimestampType | null;
  /** null (absent) is distinct from an empty array. */
  key: Uint8Array | null;
  /** null (Kafka tombstone) is distinct from an empty array. */
  value: Uint8Array | null;
  /** Kafka record headers, in order; names may repeat; a value may be null. */
  headers: RecordHeader[];
  /**
   * What else the adapter keeps of the record, as a JSON value it owns (RabbitMQ: the exchange,
   * routing key, redelivered flag and basic properties); null when there is nothing. The archive
   * stores it as canonical JSON without looking inside (docs/FORMAT.md, "Attributes part").
   */
  attributes: JsonValue | null;
}

/** A value JSON can hold (numbers finite). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export type TimestampType = 'create' | 'log-append';

export interface RecordHeader {
  name: string;
  value: Uint8Array | null;
}

/**
 * Records laid out as columns over one buffer, for a broker adapter that parses its own wire
 * format: the writer encodes them straight from the wire bytes, without an ArchiveRecord (and
 * its key, value and header objects) per record. Record i's key is
 * bytes[keyStart[i], keyStart[i] + keyLength[i]); a length of -1 is null. The same holds for
 * values, for header names and values, and for the attributes (their canonical JSON, UTF-8, as
 * the archive stores it; columnRecord parses it). Record i's headers are numbers
 * headerStart[i] .. headerStart[i + 1] - 1 of the header columns, in their original order.
 *
 * Whoever fills them guarantees: positions strictly increase, and are integers below 2^53
 * (exact as numbers: Kafka offsets never come near it); timestamps are integers (ms since the
 * epoch) or NaN for none; header names are valid UTF-8 and never null.
 */
export interface RecordColumns {
  readonly count: number;
  readonly bytes: Uint8Array;
  readonly position: Float64Array;
  readonly timestamp: Float64Array;
  /** One per record: 0 unknown, 1 'create', 2 'log-append'. */
  readonly timestampType: Uint8Array;
  readonly keyStart: Int32Array;
  readonly keyLength: Int32Array;
  readonly valueStart: Int32Array;
  readonly valueLength: Int32Array;
  /** The record's attributes as canonical JSON; length -1 when it has none. */
  readonly attributeStart: Int32Array;
  readonly attributeLength: Int32Array;
  /** count + 1 entries. */
  readonly headerStart: Int32Array;
  readonly headerNameStart: Int32Array;
  readonly headerNameLength: Int32Array;
  readonly headerValueStart: Int32Array;
  readonly headerValueLength: Int32Array;
}

/**
 * Growable columns; finish() hands out views of the filled part. Attribute lengths start at -1
 * (none), so a filler that knows no attributes (a Kafka fetch) leaves them alone.
 */
export class ColumnsBuilder {
  count = 0;
  headers = 0;
  position: Float64Array;
  timestamp: Float64Array;
  timestampType: Uint8Array;
  keyStart: Int32Array;
  keyLength: Int32Array;
  valueStart: Int32Array;
  valueLength: Int32Array;
  attributeStart: Int32Array;
  attributeLength: Int32Array;
  headerStart: Int32Array;
  headerNameStart: Int32Array;
  headerNameLength: Int32Array;
  headerValueStart: Int32Array;
  headerValueLength: Int32Array;

  constructor(records: number, headers: number) {
    records = Math.max(records, 8);
    headers = Math.max(headers, 8);
    this.position = new Float64Array(records);
    this.timestamp = new Float64Array(records);
    this.timestampType = new Uint8Array(records);
    this.keyStart = new Int32Array(records);
    this.keyLength = new Int32Array(records);
    this.valueStart = new Int32Array(records);
    this.valueLength = new Int32Array(records);
    this.attributeStart = new Int32Array(records);
    this.attributeLength = new Int32Array(records).fill(-1);
    this.headerStart = new Int32Array(records + 1);
    this.headerNameStart = new Int32Array(headers);
    this.headerNameLength = new Int32Array(headers);
    this.headerValueStart = new Int32Array(headers);
    this.headerValueLength = new Int32Array(headers);
  }

  growRecords(): void {
    const n = this.position.length * 2;
    this.position = grow(this.position, n);
    this.timestamp = grow(this.timestamp, n);
    this.timestampType = grow(this.timestampType, n);
    this.keyStart = grow(this.keyStart, n);
    this.keyLength = grow(this.keyLength, n);
    this.valueStart = grow(this.valueStart, n);
    this.valueLength = grow(this.valueLength, n);
    this.attributeStart = grow(this.attributeStart, n);
    const old = this.attributeLength.length;
    this.attributeLength = grow(this.attributeLength, n);
    this.attributeLength.fill(-1, old);
    this.headerStart = grow(this.headerStart, n + 1);
  }

  growHeaders(): void {
    const n = this.headerNameStart.length * 2;
    this.headerNameStart = grow(this.headerNameStart, n);
    this.headerNameLength = grow(this.headerNameLength, n);
    this.headerValueStart = grow(this.headerValueStart, n);
    this.headerValueLength = grow(this.headerValueLength, n);
  }

  finish(bytes: Uint8Array): RecordColumns {
    const n = this.count;
    const h = this.headers;
    this.headerStart[n] = h;
    return {
      count: n,
      bytes,
      position: this.position.subarray(0, n),
      timestamp: this.timestamp.subarray(0, n),
      timestampType: this.timestampType.subarray(0, n),
      keyStart: this.keyStart.subarray(0, n),
      keyLength: this.keyLength.subarray(0, n),
      valueStart: this.valueStart.subarray(0, n),
      valueLength: this.valueLength.subarray(0, n),
      attributeStart: this.attributeStart.subarray(0, n),
      attributeLength: this.attributeLength.subarray(0, n),
      headerStart: this.headerStart.subarray(0, n + 1),
      headerNameStart: this.headerNameStart.subarray(0, h),
      headerNameLength: this.headerNameLength.subarray(0, h),
      headerValueStart: this.headerValueStart.subarray(0, h),
      headerValueLength: this.headerValueLength.subarray(0, h),
    };
  }
}

function grow<T extends Float64Array | Int32Array | Uint8Array>(a: T, n: number): T {
  const b = new (a.constructor as new (n: number) => T)(n);
  b.set(a);
  return b;
}

/** The timestamp types of RecordColumns.timestampType, by code. */
export const TIMESTAMP_TYPES: ReadonlyArray<TimestampType | null> = [null, 'create', 'log-append'];

const headerNameText = new TextDecoder();

/**
 * Record i of the columns as an ArchiveRecord (views into cols.bytes, no copies; the attributes
 * parsed from their JSON).
 */
export function columnRecord(cols: RecordColumns, i: number): ArchiveRecord {
  const span = (start: number, length: number) => (length < 0 ? null : cols.bytes.subarray(start, start + length));
  const headers: RecordHeader[] = [];
  for (let h = cols.headerStart[i]!; h < cols.headerStart[i + 1]!; h++) {
    headers.push({ name: headerNameText.decode(span(cols.headerNameStart[h]!, cols.headerNameLength[h]!)!), value: span(cols.headerValueStart[h]!, cols.headerValueLength[h]!) });
  }
  const ts = cols.timestamp[i]!;
  return {
    position: BigInt(cols.position[i]!),
    timestamp: Number.isNaN(ts) ? null : ts,
    timestampType: TIMESTAMP_TYPES[cols.timestampType[i]!] ?? null,
    key: span(cols.keyStart[i]!, cols.keyLength[i]!),
    value: span(cols.valueStart[i]!, cols.valueLength[i]!),
    headers,
    attributes: cols.attributeLength[i]! < 0 ? null : (JSON.parse(headerNameText.decode(span(cols.attributeStart[i]!, cols.attributeLength[i]!)!)) as JsonValue),
  };
}

/**
 * ArchiveRecords as columns over one new buffer holding copies of their keys, values, header
 * names and values, and attributes (canonical JSON). Positions must be exact as numbers
 * (|p| < 2^53).
 */
export function columnsOf(records: readonly ArchiveRecord[]): RecordColumns {
  const utf8 = new TextEncoder();
  const names = records.map((r) => r.headers.map((h) => utf8.encode(h.name)));
  const attributes = records.map((r) => (r.attributes === null ? null : utf8.encode(canonicalJson(r.attributes))));
  let size = 0;
  let headers = 0;
  records.forEach((r, i) => {
    size += (r.key?.length ?? 0) + (r.value?.length ?? 0) + (attributes[i]?.length ?? 0);
    r.headers.forEach((h, j) => (size += names[i]![j]!.length + (h.value?.length ?? 0)));
    headers += r.headers.length;
  });
  const bytes = new Uint8Array(size);
  const out = new ColumnsBuilder(records.length, headers);
  let o = 0;
  const put = (b: Uint8Array | null): [number, number] => {
    if (b === null) return [o, -1];
    bytes.set(b, o);
    o += b.length;
    return [o - b.length, b.length];
  };
  records.forEach((r, i) => {
    out.position[i] = Number(r.position);
    out.timestamp[i] = r.timestamp ?? NaN;
    out.timestampType[i] = Math.max(TIMESTAMP_TYPES.indexOf(r.timestampType), 0);
    [out.keyStart[i], out.keyLength[i]] = put(r.key);
    [out.valueStart[i], out.valueLength[i]] = put(r.value);
    [out.attributeStart[i], out.attributeLength[i]] = put(attributes[i]!);
    out.headerStart[i] = out.headers;
    r.headers.forEach((h, j) => {
      const x = out.headers++;
      [out.headerNameStart[x], out.headerNameLength[x]] = put(names[i]![j]!);
      [out.headerValueStart[x], out.headerValueLength[x]] = put(h.value);
    });
    out.count++;
  });
  return out.finish(bytes);
}

/**
 * Records to send, in order: records from .. to - 1 of each slice's columns. A Kafka restore hands
 * the archive's blocks over as they were decoded, without an object per record.
 */
export interface RecordSlice {
  readonly cols: RecordColumns;
  readonly from: number;
  readonly to: number;
}

export function sliceCount(slices: readonly RecordSlice[]): number {
  let n = 0;
  for (const s of slices) n += s.to - s.from;
  return n;
}
