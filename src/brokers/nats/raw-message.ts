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
  return {
    seq: m.seq,
    timestamp: Math.floor(m.info.timestampNanos / 1e6),
    subject: m.subject,
    headers: headersOf(rawHeaderBlock(m), m.info.stream, m.seq),
    data: m.data,
  };
}

/** A message as the core client hands it to a subscription's callback (MsgImpl, see above). */
export interface CoreMsg {
  _rdata?: Uint8Array;
  _msg: { subject: Uint8Array; reply?: Uint8Array; hdr: number };
}

/** The fields of a message of the core client that recordOfCore needs, or a clear error. */
export function coreFields(m: unknown): CoreMsg {
  const msg = (m as Partial<CoreMsg>)._msg;
  if (msg === undefined || typeof msg.hdr !== 'number' || !(msg.subject instanceof Uint8Array)) {
    throw new MqbakError('internal', 'the NATS client message has no raw subject and header block (not the pinned @nats-io client 3.4?)');
  }
  return m as CoreMsg;
}

const empty = new Uint8Array(0);

/**
 * The record of message `m` of `stream` delivered with sequence `seq` and timestamp `timestamp`
 * (read from its reply subject by the caller), straight from the bytes the client received:
 * no header map, no strings but the subject (and header names, which parseHeaderBlock keeps).
 */
export function recordOfCore(m: CoreMsg, stream: string, seq: number, timestamp: number): NatsRecord {
  const hdr = m._msg.hdr;
  const all = m._rdata ?? empty;
  // plain Uint8Array views: the client's bytes are a Buffer, whose views cost more to make
  const at = all.byteOffset;
  const h = hdr >= 0 ? hdr : 0;
  return {
    seq,
    timestamp,
    subject: subjectOf(m._msg.subject),
    headers: hdr >= 0 ? headersOf(new Uint8Array(all.buffer, at, h), stream, seq) : [],
    data: new Uint8Array(all.buffer, at + h, all.length - h),
  };
}

function headersOf(block: Uint8Array | null, stream: string, seq: number): RecordHeader[] {
  if (!block) return [];
  try {
    return parseHeaderBlock(block).headers;
  } catch (e) {
    throw new MqbakError('integrity', `stream ${stream} message ${seq}: unreadable header block: ${(e as Error).message}`, { cause: e });
  }
}

/** Subjects decoded lately: a stream's messages mostly come on a few subjects. */
const recentSubjects: Array<{ bytes: Uint8Array; subject: string }> = [];
const RECENT_SUBJECTS = 8;
let nextSubjectSlot = 0;
const subjects = new TextDecoder();

/** The subject in `bytes` (UTF-8), decoded or found among the recent ones. */
export function subjectOf(bytes: Uint8Array): string {
  const n = bytes.length;
  for (const r of recentSubjects) {
    const b = r.bytes;
    if (b.length !== n) continue;
    let i = n - 1;
    // subjects of a stream share their start: compare from the end
    while (i >= 0 && b[i] === bytes[i]) i--;
    if (i < 0) return r.subject;
  }
  const subject = subjects.decode(bytes);
  recentSubjects[nextSubjectSlot] = { bytes: bytes.slice(), subject };
  nextSubjectSlot = (nextSubjectSlot + 1) % RECENT_SUBJECTS;
  return subject;
}

/**
 * A header block that the client sends as it is: the client calls only encode() on the headers
 * of an outgoing message (its own parsed header map would rewrite the block).
 */
export function rawHeaders(block: Uint8Array): MsgHdrs {
  return { encode: () => block } as unknown as MsgHdrs;
}
