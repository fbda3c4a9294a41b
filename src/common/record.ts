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
  /** RabbitMQ only: where the message came from and its basic properties. */
  amqp: AmqpMessageMeta | null;
}

export type TimestampType = 'create' | 'log-append';

export interface RecordHeader {
  name: string;
  value: Uint8Array | null;
}

export interface AmqpMessageMeta {
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  properties: AmqpProperties;
}

/** AMQP 0-9-1 basic properties; an absent property is left out (not null). */
export interface AmqpProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: AmqpField[];
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  /** Seconds since the epoch, as AMQP carries it. */
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/** One entry of an AMQP field table, in wire order. */
export interface AmqpField {
  name: string;
  value: AmqpValue;
}

/**
 * A field-table value with its AMQP type kept, so that restore encodes it with the same type.
 * Byte arrays travel as base64 in the archive's JSON (see docs/FORMAT.md).
 */
export type AmqpValue =
  | { type: 'string'; value: string } // S (long string)
  | { type: 'bytes'; value: string } // x (byte array), base64
  | { type: 'bool'; value: boolean } // t
  | { type: 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32'; value: number }
  | { type: 'int64'; value: string } // l, decimal string: int64 does not fit a JS number
  | { type: 'float' | 'double'; value: number } // f, d
  | { type: 'decimal'; places: number; digits: number } // D
  | { type: 'timestamp'; value: number } // T, seconds since the epoch
  | { type: 'table'; value: AmqpField[] } // F
  | { type: 'array'; value: AmqpValue[] } // A
  | { type: 'void' }; // V

/**
 * Records laid out as columns over one buffer, for a broker adapter that parses its own wire
 * format: the writer encodes them straight from the wire bytes, without an ArchiveRecord (and
 * its key, value and header objects) per record. Record i's key is
 * bytes[keyStart[i], keyStart[i] + keyLength[i]); a length of -1 is null. The same holds for
 * values and for header names and values. Record i's headers are numbers
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
  /** count + 1 entries. */
  readonly headerStart: Int32Array;
  readonly headerNameStart: Int32Array;
  readonly headerNameLength: Int32Array;
  readonly headerValueStart: Int32Array;
  readonly headerValueLength: Int32Array;
}

/** The timestamp types of RecordColumns.timestampType, by code. */
export const TIMESTAMP_TYPES: ReadonlyArray<TimestampType | null> = [null, 'create', 'log-append'];

/** Record i of the columns as an ArchiveRecord (views into cols.bytes, no copies). */
export function columnRecord(cols: RecordColumns, i: number): ArchiveRecord {
  const span = (start: number, length: number) => (length < 0 ? null : cols.bytes.subarray(start, start + length));
  const headers: RecordHeader[] = [];
  const text = new TextDecoder();
  for (let h = cols.headerStart[i]!; h < cols.headerStart[i + 1]!; h++) {
    headers.push({ name: text.decode(span(cols.headerNameStart[h]!, cols.headerNameLength[h]!)!), value: span(cols.headerValueStart[h]!, cols.headerValueLength[h]!) });
  }
  const ts = cols.timestamp[i]!;
  return {
    position: BigInt(cols.position[i]!),
    timestamp: Number.isNaN(ts) ? null : ts,
    timestampType: TIMESTAMP_TYPES[cols.timestampType[i]!] ?? null,
    key: span(cols.keyStart[i]!, cols.keyLength[i]!),
    value: span(cols.valueStart[i]!, cols.valueLength[i]!),
    headers,
    amqp: null,
  };
}
