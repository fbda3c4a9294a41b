/**
 * A whole delivery cut from the connection's bytes: the basic.deliver method frame, the content
 * header and the body frames that follow it, parsed in one pass into the message a backup
 * consumer takes (fields, the property bytes left undecoded, the body), without amqplib's
 * per-frame objects, its decoder and its per-channel state machine (frame-reader.ts calls this).
 *
 * Anything not laid out as expected (another method, frames of other channels or types in
 * between, a frame over the size limit, a wrong end octet, more body than announced) is left to
 * amqplib, which parses frame by frame and reports a broken stream as it always did.
 */
import type { ConsumeMessage } from 'amqplib';
import { BASIC_CLASS, FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_METHOD, FRAME_OVERHEAD, FRAME_PREFIX, HEADER_FIXED } from './amqp-frames.js';

/** basic.deliver's class and method ids as the method frame's payload starts with them. */
const BASIC_DELIVER = (BASIC_CLASS << 16) | 60;
/** Method id (4), then the shortest fields: consumer tag (1), delivery tag (8), redelivered (1), exchange (1), routing key (1). */
const DELIVER_MIN = 4 + 1 + 8 + 1 + 1 + 1;

/** A string field's last bytes and its text: a consumer's deliveries mostly repeat them. */
interface LastString {
  bytes: Buffer;
  length: number;
  text: string;
}
const lastString = (): LastString => ({ bytes: Buffer.alloc(255), length: -1, text: '' });
const lastTag = lastString();
const lastExchange = lastString();
const lastKey = lastString();

/** Bytes [s, e) (at most 255) as UTF-8 text: the last one's string when the bytes are the same. */
function text(buf: Buffer, s: number, e: number, last: LastString): string {
  const n = e - s;
  if (n === last.length) {
    const b = last.bytes;
    let k = 0;
    while (k < n && buf[s + k] === b[k]) k++;
    if (k === n) return last.text;
  }
  last.text = buf.toString('utf8', s, e);
  buf.copy(last.bytes, 0, s, e);
  last.length = n;
  return last.text;
}

/** The delivery's frames are not all in the bytes yet. */
export const MORE = 'more';

/**
 * The delivery starting at `buf[0]` (a frame's first byte), with `properties` built by
 * `properties(raw)` from the content header's property bytes (a view of `buf`, never copied).
 * Returns the message and sets `at.end` to the offset after its last frame; MORE when its frames
 * go on past `buf`; null when the bytes there are not a delivery this parser takes (amqplib's
 * path then reads them). `maxFrameSize` 0 means no limit. The body is a view of `buf` when it
 * came in one frame.
 */
export function parseDelivery(
  buf: Buffer,
  maxFrameSize: number,
  properties: (raw: Buffer) => ConsumeMessage['properties'],
  at: { end: number },
): ConsumeMessage | typeof MORE | null {
  if (buf.length < FRAME_PREFIX) return MORE;
  if (buf[0] !== FRAME_METHOD) return null;
  const channel = buf.readUInt16BE(1);
  const size = buf.readUInt32BE(3);
  if ((maxFrameSize > 0 && size > maxFrameSize) || size < DELIVER_MIN) return null;
  const methodEnd = FRAME_PREFIX + size;
  if (buf.length <= methodEnd) return MORE;
  if (buf[methodEnd] !== FRAME_END || buf.readUInt32BE(FRAME_PREFIX) !== BASIC_DELIVER) return null;
  let p = FRAME_PREFIX + 4;
  const tagEnd = p + 1 + buf[p]!;
  if (tagEnd + 8 + 1 + 1 > methodEnd) return null;
  const consumerTag = text(buf, p + 1, tagEnd, lastTag);
  p = tagEnd;
  const deliveryTag = buf.readUInt32BE(p) * 2 ** 32 + buf.readUInt32BE(p + 4);
  const redelivered = (buf[p + 8]! & 1) !== 0;
  p += 9;
  const exchangeEnd = p + 1 + buf[p]!;
  if (exchangeEnd + 1 > methodEnd) return null;
  const exchange = text(buf, p + 1, exchangeEnd, lastExchange);
  p = exchangeEnd;
  const keyEnd = p + 1 + buf[p]!;
  if (keyEnd > methodEnd) return null;
  const routingKey = text(buf, p + 1, keyEnd, lastKey);

  // the content header
  p = methodEnd + 1;
  if (buf.length < p + FRAME_PREFIX) return MORE;
  if (buf[p] !== FRAME_HEADER || buf.readUInt16BE(p + 1) !== channel) return null;
  const headerSize = buf.readUInt32BE(p + 3);
  if ((maxFrameSize > 0 && headerSize > maxFrameSize) || headerSize < HEADER_FIXED) return null;
  const headerEnd = p + FRAME_PREFIX + headerSize;
  if (buf.length <= headerEnd) return MORE;
  if (buf[headerEnd] !== FRAME_END || buf.readUInt16BE(p + FRAME_PREFIX) !== BASIC_CLASS) return null;
  const bodySize = buf.readUInt32BE(p + FRAME_PREFIX + 4) * 2 ** 32 + buf.readUInt32BE(p + FRAME_PREFIX + 8);
  const raw = buf.subarray(p + FRAME_PREFIX + HEADER_FIXED, headerEnd);

  // the body frames, until they hold bodySize bytes
  p = headerEnd + 1;
  let remaining = bodySize;
  let first: Buffer | null = null;
  let parts: Buffer[] | null = null;
  while (remaining > 0) {
    if (buf.length < p + FRAME_PREFIX) return MORE;
    if (buf[p] !== FRAME_BODY || buf.readUInt16BE(p + 1) !== channel) return null;
    const n = buf.readUInt32BE(p + 3);
    if ((maxFrameSize > 0 && n > maxFrameSize) || n > remaining) return null;
    if (buf.length < p + n + FRAME_OVERHEAD) return MORE;
    if (buf[p + FRAME_PREFIX + n] !== FRAME_END) return null;
    const piece = buf.subarray(p + FRAME_PREFIX, p + FRAME_PREFIX + n);
    if (first === null) first = piece;
    else (parts ??= [first]).push(piece);
    remaining -= n;
    p += n + FRAME_OVERHEAD;
  }
  at.end = p;
  const content = parts !== null ? Buffer.concat(parts, bodySize) : (first ?? Buffer.alloc(0));
  return { fields: { consumerTag, deliveryTag, redelivered, exchange, routingKey }, properties: properties(raw), content };
}
