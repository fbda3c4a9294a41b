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
