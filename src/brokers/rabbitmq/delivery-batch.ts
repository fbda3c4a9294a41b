/**
 * Deliveries collected as record columns (RecordColumns) over one reused buffer: each body is
 * copied in once and its attributes written there as the archive stores them (canonical JSON,
 * attributes-writer.ts), so a drained or mirrored message costs no ArchiveRecord, no
 * AmqpMessageMeta and no JSON string. The bytes the archive gets are the same as through
 * deliveryRecord (delivery.ts): what the direct writer leaves alone is decoded and written as
 * there.
 */
import type { ConsumeMessage } from 'amqplib';
import { MqbakError } from '../../common/errors.js';
import { canonicalJson } from '../../common/canonical-json.js';
import { ColumnsBuilder, type RecordColumns } from '../../common/record.js';
import { decodeBasicProperties, type DecodeNotes } from './amqp-codec.js';
import { amqpToAttributes } from './amqp-json.js';
import type { AmqpMessageMeta } from './amqp-types.js';
import { writeDeliveryAttributes, type WrittenAttributes } from './attributes-writer.js';
import { ByteWriter } from './byte-writer.js';

/** A batch is handed on when it holds this many messages or bytes (or no delivery is waiting). */
const MAX_MESSAGES = 1024;
const MAX_BYTES = 1024 * 1024;
const BUFFER_SIZE = MAX_BYTES + 64 * 1024;

export class DeliveryBatch {
  private readonly cols = new ColumnsBuilder(MAX_MESSAGES, 8);
  private readonly w = new ByteWriter(BUFFER_SIZE);
  private readonly written: WrittenAttributes = { timestamp: -1 };
  /** Messages that took the general path (non-ASCII or escaped strings, floats...): for tests. */
  general = 0;

  get count(): number {
    return this.cols.count;
  }

  get full(): boolean {
    return this.cols.count >= MAX_MESSAGES || this.w.length >= MAX_BYTES;
  }

  /** Adds a delivery, whose captured property bytes are `raw` (rawPropertiesOf), as the record at `position` (< 2^53). */
  add(msg: ConsumeMessage, raw: Buffer, position: number, notes: DecodeNotes): void {
    const c = this.cols;
    if (c.count === c.position.length) c.growRecords();
    const i = c.count;
    const w = this.w;
    const body = msg.content;
    c.position[i] = position;
    c.timestampType[i] = 0;
    c.keyStart[i] = 0;
    c.keyLength[i] = -1;
    c.headerStart[i] = c.headers;
    c.valueStart[i] = w.length;
    c.valueLength[i] = body.length;
    w.span(body, 0, body.length);
    const start = w.length;
    const f = msg.fields;
    let ts = writeDeliveryAttributes(w, f.exchange, f.routingKey, f.redelivered, raw, this.written)?.timestamp;
    if (ts === undefined) {
      this.general++;
      const meta: AmqpMessageMeta = { exchange: f.exchange, routingKey: f.routingKey, redelivered: f.redelivered, properties: decodeBasicProperties(raw, notes) };
      w.utf8(canonicalJson(amqpToAttributes(meta)));
      ts = meta.properties.timestamp ?? -1;
    }
    c.attributeStart[i] = start;
    c.attributeLength[i] = w.length - start;
    if (ts < 0) c.timestamp[i] = NaN;
    else {
      const ms = ts * 1000;
      if (!Number.isSafeInteger(ms)) throw new MqbakError('internal', `record ${position}: timestamp ${ms} is not an integer`);
      c.timestamp[i] = ms;
    }
    c.count++;
  }

  /**
   * The columns of the deliveries added since the last take; valid until the next add (hand them
   * on and wait for that before adding more).
   */
  take(): RecordColumns {
    const cols = this.cols.finish(this.w.buf.subarray(0, this.w.length));
    this.cols.count = 0;
    this.cols.headers = 0;
    this.w.length = 0;
    // a very large message grew the buffer: not kept for the rest of the read (cols holds the old one)
    if (this.w.buf.length > 4 * BUFFER_SIZE) this.w.buf = Buffer.allocUnsafe(BUFFER_SIZE);
    return cols;
  }
}
