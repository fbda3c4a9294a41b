/**
 * The AMQP 0-9-1 side of a RabbitMQ message as mqbak keeps it: where it came from and its basic
 * properties with every field-table value's type. Stored as the record's attributes
 * (amqp-json.ts; docs/FORMAT.md, "Attributes part").
 */
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
