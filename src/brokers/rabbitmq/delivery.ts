/**
 * A delivery as the archive keeps it: its AMQP side (exchange, routing key, redelivered flag and
 * properties with their wire types) becomes the record's attributes, its body the value.
 */
import type { ConsumeMessage } from 'amqplib';
import type { ArchiveRecord } from '../../common/record.js';
import type { DecodeNotes } from './amqp-codec.js';
import { amqpToAttributes } from './amqp-json.js';
import type { AmqpMessageMeta, AmqpProperties } from './amqp-types.js';
import { propertiesOf } from './connection.js';

/** The AMQP side of a delivery, decoded from the captured content-header bytes. */
export function deliveryMeta(msg: ConsumeMessage, notes: DecodeNotes): AmqpMessageMeta {
  return {
    exchange: msg.fields.exchange,
    routingKey: msg.fields.routingKey,
    redelivered: msg.fields.redelivered,
    properties: propertiesOf(msg, notes),
  };
}

/** The record of a delivery whose meta the reader has looked at (and maybe trimmed). */
export function deliveryRecord(msg: ConsumeMessage, meta: AmqpMessageMeta, position: bigint): ArchiveRecord {
  const ts = meta.properties.timestamp;
  return {
    position,
    timestamp: ts !== undefined ? ts * 1000 : null,
    timestampType: null,
    key: null,
    // a copy: amqplib's content may be a view into a larger socket buffer
    value: new Uint8Array(msg.content),
    headers: [],
    attributes: amqpToAttributes(meta),
  };
}

/** The stream offset RabbitMQ puts on every delivery from a stream queue (x-stream-offset, a long). */
export function streamOffsetOf(props: AmqpProperties): bigint | null {
  const h = props.headers?.find((f) => f.name === 'x-stream-offset');
  if (!h) return null;
  const v = h.value;
  if (v.type === 'int64') return BigInt(v.value);
  if (v.type === 'int8' || v.type === 'int16' || v.type === 'int32' || v.type === 'uint8' || v.type === 'uint16' || v.type === 'uint32') return BigInt(v.value);
  return null;
}

/** The delivery count a quorum queue put on a message (x-delivery-count), 0 when none. */
export function deliveryCountOf(props: AmqpProperties): number {
  const v = props.headers?.find((h) => h.name === 'x-delivery-count')?.value;
  return v && 'value' in v ? Number(v.value) : 0;
}

/** Warns once per read about strings that were not valid UTF-8, and forgets them. */
export function reportInvalidUtf8(notes: DecodeNotes, warn: (m: string) => void): void {
  if (notes.invalidUtf8.length === 0) return;
  const where = [...new Set(notes.invalidUtf8)].slice(0, 5).join(', ');
  warn(`${notes.invalidUtf8.length} property or header string(s) were not valid UTF-8 (${where}); they are kept with U+FFFD replacement characters`);
  notes.invalidUtf8 = [];
}

/**
 * A delivery as a record in one step, for callers that need not look at its meta first. Stream
 * queues: dropStreamOffset leaves the broker's x-stream-offset header out.
 */
export function toArchiveRecord(msg: ConsumeMessage, position: bigint, notes: DecodeNotes, options: { dropStreamOffset?: boolean } = {}): ArchiveRecord {
  const meta = deliveryMeta(msg, notes);
  if (options.dropStreamOffset && meta.properties.headers) meta.properties.headers = meta.properties.headers.filter((f) => f.name !== 'x-stream-offset');
  return deliveryRecord(msg, meta, position);
}
