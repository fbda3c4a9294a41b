/**
 * A JetStream message as mqbak keeps it (NatsRecord), taken from the client's message object
 * with the header block as the server sent it (header-block.ts says why).
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { MsgHdrs } from '@nats-io/transport-node';
import { MqbakError } from '../../common/errors.js';
import type { RecordHeader } from '../../common/record.js';
import { parseHeaderBlock } from './header-block.js';

export interface NatsRecord {
  /** Stream sequence. */
  seq: number;
  /** When the server stored it, in milliseconds since the epoch (the server keeps nanoseconds). */
  timestamp: number;
  subject: string;
  /** In the order of the header block; names may repeat; null value: a line without a colon. */
  headers: RecordHeader[];
  data: Uint8Array;
}

/**
 * The client's message keeps the bytes of header block and payload together in `_rdata`, and the
 * length of the header block (-1: none) in `_msg.hdr` (@nats-io/nats-core 3.4 MsgImpl).
 */
interface CoreMsgInternals {
  _rdata?: Uint8Array;
  _msg?: { hdr?: number };
}

/** The header block bytes of a message received by the client, or null when it had none. */
export function rawHeaderBlock(m: JsMsg): Uint8Array | null {
  const inner = (m as unknown as { msg?: CoreMsgInternals }).msg;
  const hdr = inner?._msg?.hdr;
  if (inner === undefined || typeof hdr !== 'number') {
    throw new MqbakError('internal', 'the NATS client message has no raw header block (not the pinned @nats-io client 3.4?)');
  }
  if (hdr < 0) return null;
  if (!inner._rdata) throw new MqbakError('internal', 'the NATS client message has a header length but no bytes');
  return inner._rdata.subarray(0, hdr);
}

/**
 * The record of a consumed message. The data and header values are views into the client's
 * receive buffer for this message (a fresh buffer per message: nothing else writes to it).
 */
export function recordOf(m: JsMsg): NatsRecord {
  const block = rawHeaderBlock(m);
  let headers: RecordHeader[] = [];
  if (block) {
    try {
      headers = parseHeaderBlock(block).headers;
    } catch (e) {
      throw new MqbakError('integrity', `stream ${m.info.stream} message ${m.seq}: unreadable header block: ${(e as Error).message}`, { cause: e });
    }
  }
  return {
    seq: m.seq,
    timestamp: Math.floor(m.info.timestampNanos / 1e6),
    subject: m.subject,
    headers,
    data: m.data,
  };
}

/**
 * A header block that the client sends as it is: the client calls only encode() on the headers
 * of an outgoing message (its own parsed header map would rewrite the block).
 */
export function rawHeaders(block: Uint8Array): MsgHdrs {
  return { encode: () => block } as unknown as MsgHdrs;
}
