/**
 * Reading frames off an amqplib connection, with the one addition mqbak needs: the raw bytes of
 * every content header, so headers keep their AMQP types (see amqp-codec.ts).
 *
 * amqplib 2.3's Connection#recvFrame parses one frame from `this.rest`, reading more from the
 * socket (and calling `this.recvFrame()` again) while the frame is incomplete. We replace it per
 * connection with a reader that first makes sure a whole frame is in `rest` (as amqplib does, but
 * without copying a socket chunk that starts a frame: amqplib joins even an empty `rest` to it),
 * then:
 *  - a content header on a channel marked raw-only (a backup consumer, which reads nothing but the
 *    captured bytes) is not decoded at all: amqplib's message.properties is an empty object holding
 *    a view of the property bytes (the frame's buffer is never written to again);
 *  - any other content header is decoded by amqplib, and a copy of its property bytes is kept on
 *    the decoded object (amqplib hands that object out as message.properties).
 *  - a basic.deliver on a channel that takes its deliveries directly (takeDeliveriesDirectly) is
 *    read whole, method, content header and body frames in one pass (delivery-frames.ts), and
 *    handed to that channel's handler, when all its frames are in (up to WAIT_AT_MOST bytes are
 *    gathered for that) and amqplib's channel is between messages; otherwise amqplib reads it
 *    frame by frame, as any other frame.
 * Only the AMQP frame layout is assumed, not amqplib's decoders; if amqplib ever stops having
 * recvFrame/rest/stream, capture fails loudly (never silently loses types): see rawPropertiesOf.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { MqbakError } from '../../common/errors.js';
import { BASIC_CLASS, FRAME_END, FRAME_HEADER, FRAME_METHOD, FRAME_PREFIX, HEADER_FIXED } from './amqp-frames.js';
import { MORE, parseDelivery } from './delivery-frames.js';

/** Where the captured property bytes ride on amqplib's `message.properties` object. */
const RAW_PROPERTIES = Symbol('mqbak.rawProperties');
/** Marks an amqplib Channel whose content headers are left undecoded. */
const RAW_ONLY = Symbol('mqbak.rawOnly');
/** On an amqplib Channel: the handler its deliveries go to straight from the frame reader. */
const DELIVERIES = Symbol('mqbak.deliveries');
/** On an amqplib Channel: amqplib's message state between two messages (its handleMessage then). */
const BETWEEN_MESSAGES = Symbol('mqbak.betweenMessages');
/**
 * On the connection: true while reading is held off (read-pause.ts), so that the reader stops
 * after the delivery it has just handed on.
 */
export const READ_HELD = Symbol('mqbak.readHeld');
/**
 * The most bytes gathered for one delivery read whole; a larger one (a body of over about
 * 256 KiB) is read by amqplib frame by frame rather than joined chunk after chunk here.
 */
const WAIT_AT_MOST = 256 * 1024;

type Delivered = (msg: ConsumeMessage) => void;

interface DirectChannel {
  accept?: unknown;
  handleMessage?: unknown;
  [RAW_ONLY]?: boolean;
  [DELIVERIES]?: Delivered;
  [BETWEEN_MESSAGES]?: unknown;
}

/** amqplib's message.properties for a delivery whose content header is left undecoded. */
function rawOnlyProperties(raw: Buffer): ConsumeMessage['properties'] {
  return { [RAW_PROPERTIES]: raw } as unknown as ConsumeMessage['properties'];
}


interface FrameReader {
  rest: Buffer;
  recvFrame(): unknown;
  recvSinceLastCheck?: boolean;
  maxFrameSize?: number;
  stream?: { read(): Buffer | null };
  channels?: ({ channel?: DirectChannel } | null | undefined)[];
  [READ_HELD]?: boolean;
}

/** Installs the reader on a fresh connection; throws when amqplib's internals are not as expected. */
export function installFrameReader(model: ChannelModel): void {
  const conn = (model as unknown as { connection?: FrameReader }).connection;
  if (!conn || typeof conn.recvFrame !== 'function' || !Buffer.isBuffer(conn.rest) || typeof conn.stream?.read !== 'function' || !Array.isArray(conn.channels)) {
    throw new MqbakError('internal', 'this amqplib version has no Connection#recvFrame/rest: cannot keep AMQP header types', {
      hint: 'use the amqplib version mqbak ships with (2.3.x)',
    });
  }
  const original = conn.recvFrame;
  const at = { end: 0 };
  conn.recvFrame = function (this: FrameReader) {
    let rest = this.rest;
    for (;;) {
      let whole = false;
      if (rest.length >= FRAME_PREFIX) {
        const size = rest.readUInt32BE(3);
        // a frame over the limit: amqplib's parser rejects it
        if (this.maxFrameSize! > 0 && size > this.maxFrameSize!) return original.call(this);
        whole = rest.length >= FRAME_PREFIX + size + 1;
      }
      if (whole && rest[0] === FRAME_METHOD) {
        const ch = this.channels![rest.readUInt16BE(1)]?.channel;
        const deliver = ch?.[DELIVERIES];
        if (deliver !== undefined && ch!.handleMessage === ch![BETWEEN_MESSAGES] && !Object.prototype.hasOwnProperty.call(ch, 'accept')) {
          const msg = parseDelivery(rest, this.maxFrameSize!, rawOnlyProperties, at);
          if (msg !== null && msg !== MORE) {
            rest = this.rest = rest.subarray(at.end);
            deliver(msg);
            if (this[READ_HELD] === true) return false;
            continue;
          }
          // its other frames are still to come: gathered here unless the delivery is large
          if (msg === MORE && rest.length < WAIT_AT_MOST) whole = false;
        }
      }
      if (whole) break;
      const incoming = this.stream!.read();
      if (incoming === null) return false;
      this.recvSinceLastCheck = true;
      rest = this.rest = rest.length === 0 ? incoming : Buffer.concat([rest, incoming]);
    }
    if (rest[0] !== FRAME_HEADER) return original.call(this);
    const size = rest.readUInt32BE(3);
    const end = FRAME_PREFIX + size;
    if (size < HEADER_FIXED || rest[end] !== FRAME_END) return original.call(this);
    const channel = rest.readUInt16BE(1);
    if (rest.readUInt16BE(FRAME_PREFIX) === BASIC_CLASS && this.channels![channel]?.channel?.[RAW_ONLY] === true) {
      const bodySize = rest.readUInt32BE(FRAME_PREFIX + 4) * 2 ** 32 + rest.readUInt32BE(FRAME_PREFIX + 8);
      const fields = rawOnlyProperties(rest.subarray(FRAME_PREFIX + HEADER_FIXED, end));
      this.rest = rest.subarray(end + 1);
      return { id: BASIC_CLASS, channel, size: bodySize, fields };
    }
    const f = original.call(this) as { fields?: Record<PropertyKey, unknown> } | false;
    if (f && typeof f === 'object' && f.fields && !(RAW_PROPERTIES in f.fields)) {
      Object.defineProperty(f.fields, RAW_PROPERTIES, { value: Buffer.from(rest.subarray(FRAME_PREFIX + HEADER_FIXED, end)), enumerable: false });
    }
    return f;
  };
}

/**
 * From now on the content headers of this channel's deliveries are not decoded by amqplib: its
 * messages' `properties` hold nothing but the captured bytes (rawPropertiesOf, propertiesOf).
 */
function keepPropertiesRaw(channel: Channel): void {
  Object.defineProperty(channel, RAW_ONLY, { value: true });
}

/**
 * From now on this channel's deliveries (all its consumers') go to `delivered` as the frame
 * reader reads them whole, their properties left raw as with keepPropertiesRaw; a delivery it
 * leaves to amqplib still goes to the consumer's callback. Does nothing when amqplib's channel
 * has no message state to check (every delivery then takes amqplib's path).
 */
export function takeDeliveriesDirectly(channel: Channel, delivered: Delivered): void {
  keepPropertiesRaw(channel);
  const ch = channel as unknown as DirectChannel;
  if (typeof ch.handleMessage !== 'function' || typeof ch.accept !== 'function' || Object.prototype.hasOwnProperty.call(ch, 'accept')) return;
  Object.defineProperty(channel, BETWEEN_MESSAGES, { value: ch.handleMessage });
  Object.defineProperty(channel, DELIVERIES, { value: delivered });
}

/** The raw property bytes of a delivered message; throws if capture did not happen. */
export function rawPropertiesOf(msg: ConsumeMessage): Buffer {
  const raw = (msg.properties as unknown as Record<PropertyKey, unknown>)[RAW_PROPERTIES];
  if (!Buffer.isBuffer(raw)) {
    throw new MqbakError('internal', 'the raw AMQP properties of a delivery were not captured: header types would be lost');
  }
  return raw;
}
