/**
 * The AMQP 0-9-1 frames of one basic.publish (the method, the content header, the body in frames
 * of at most frame-max), built as one buffer, and the way to hand them to an amqplib channel
 * without its per-message option handling and property encoding: amqplib 2.3's
 * Connection#sendMessage writes a message's frames to `connection.channels[n].buffer`, which its
 * Mux interleaves with the other channels' frames; ConfirmChannel#publish then pushes the confirm
 * callback. FrameWriter.of returns null when those internals are not there (the caller then
 * publishes through amqplib as before).
 */
import type { ConfirmChannel } from 'amqplib';
import { BASIC_CLASS, FRAME_BODY, FRAME_END, FRAME_HEADER, FRAME_METHOD, FRAME_OVERHEAD, FRAME_PREFIX, HEADER_FIXED } from './amqp-frames.js';

const BASIC_PUBLISH = 40;
/** RabbitMQ's default; amqplib negotiates it unless the URL says otherwise. */
export const DEFAULT_FRAME_MAX = 131072;

/** The method frame of basic.publish(exchange, routingKey, mandatory) on `channel`. */
export function publishMethodFrame(channel: number, exchange: string, routingKey: string): Buffer {
  const ex = Buffer.from(exchange, 'utf8');
  const rk = Buffer.from(routingKey, 'utf8');
  if (ex.length > 255 || rk.length > 255) throw new RangeError('exchange or routing key longer than 255 bytes');
  // class, method, reserved ticket, exchange, routing key, bits
  const size = 2 + 2 + 2 + 1 + ex.length + 1 + rk.length + 1;
  const f = Buffer.alloc(FRAME_PREFIX + size + 1);
  f[0] = FRAME_METHOD;
  f.writeUInt16BE(channel, 1);
  f.writeUInt32BE(size, 3);
  let o = FRAME_PREFIX;
  o = f.writeUInt16BE(BASIC_CLASS, o);
  o = f.writeUInt16BE(BASIC_PUBLISH, o);
  o += 2;
  f[o++] = ex.length;
  o += ex.copy(f, o);
  f[o++] = rk.length;
  o += rk.copy(f, o);
  // mandatory (bit 0); immediate (bit 1) RabbitMQ does not implement
  f[o++] = 1;
  f[o] = FRAME_END;
  return f;
}

/**
 * One message's frames after `method` (publishMethodFrame): the content header with `properties`
 * (flags and fields) and `content` in body frames of at most frameMax bytes each.
 */
export function messageFrames(method: Buffer, channel: number, properties: Uint8Array, content: Buffer, frameMax: number): Buffer {
  const maxBody = frameMax - FRAME_OVERHEAD;
  if (!(maxBody > 0)) throw new RangeError(`frame-max ${frameMax} leaves no room for a body frame`);
  const headerSize = HEADER_FIXED + properties.length;
  const bodyFrames = Math.ceil(content.length / maxBody);
  const all = Buffer.allocUnsafe(method.length + FRAME_OVERHEAD + headerSize + bodyFrames * FRAME_OVERHEAD + content.length);
  let o = method.copy(all, 0);
  all[o] = FRAME_HEADER;
  all.writeUInt16BE(channel, o + 1);
  all.writeUInt32BE(headerSize, o + 3);
  o += FRAME_PREFIX;
  o = all.writeUInt16BE(BASIC_CLASS, o);
  o = all.writeUInt16BE(0, o);
  // body size, 64 bits
  o = all.writeUInt32BE(Math.floor(content.length / 2 ** 32), o);
  o = all.writeUInt32BE(content.length >>> 0, o);
  all.set(properties, o);
  o += properties.length;
  all[o++] = FRAME_END;
  for (let from = 0; from < content.length; from += maxBody) {
    const to = Math.min(from + maxBody, content.length);
    all[o] = FRAME_BODY;
    all.writeUInt16BE(channel, o + 1);
    all.writeUInt32BE(to - from, o + 3);
    o += FRAME_PREFIX;
    o += content.copy(all, o, from, to);
    all[o++] = FRAME_END;
  }
  return all;
}

/** Sets the channel number of every frame in `frames` (for a message built before its channel was opened). */
export function setChannel(frames: Buffer, channel: number): void {
  for (let p = 0; p < frames.length; p += FRAME_OVERHEAD + frames.readUInt32BE(p + 3)) frames.writeUInt16BE(channel, p + 1);
}

/** What FrameWriter uses of an amqplib channel. */
export interface AmqplibChannel {
  ch: number;
  pushConfirmCallback(cb: (err: unknown) => void): void;
}

interface AmqplibConnection {
  channels: Array<{ channel: unknown; buffer: { write(b: Buffer): boolean } } | null | undefined>;
  frameMax: number;
  sentSinceLastCheck?: boolean;
}

/** Where one channel's frames go. */
export interface FrameSlot {
  number: number;
  write(frames: Buffer): boolean;
}

export class FrameWriter {
  private constructor(private readonly conn: AmqplibConnection) {}

  /** A writer for the connection of `ch`, or null when amqplib's internals are not as expected. */
  static of(ch: ConfirmChannel): FrameWriter | null {
    const c = ch as unknown as Partial<AmqplibChannel> & { connection?: Partial<AmqplibConnection> };
    const conn = c.connection;
    if (typeof c.ch !== 'number' || typeof c.pushConfirmCallback !== 'function' || !conn || !Array.isArray(conn.channels) || typeof conn.frameMax !== 'number') return null;
    // an open channel sends through its prototype's sendMessage; amqplib puts a refusing one on a
    // channel it closes, which publishEncoded checks for
    if (Object.hasOwn(ch, 'sendMessage')) return null;
    const w = new FrameWriter(conn as AmqplibConnection);
    return w.slotOf(ch) ? w : null;
  }

  /** The negotiated frame-max (0: none). */
  frameMax(): number {
    return this.conn.frameMax;
  }

  /** Where `ch`'s frames go, or null when the connection no longer has it open. */
  slotOf(ch: ConfirmChannel): FrameSlot | null {
    const n = (ch as unknown as AmqplibChannel).ch;
    const conn = this.conn;
    const entry = conn.channels[n];
    if (!entry || entry.channel !== ch || typeof entry.buffer?.write !== 'function') return null;
    return {
      number: n,
      write(frames) {
        // what amqplib's sendMessage sets: the connection has sent something since the last heartbeat check
        conn.sentSinceLastCheck = true;
        return entry.buffer.write(frames);
      },
    };
  }
}
