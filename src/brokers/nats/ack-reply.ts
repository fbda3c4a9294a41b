/**
 * The reply subject of a message a JetStream consumer delivers carries its delivery metadata:
 *
 *   $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp ns>.<pending>
 *   $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<timestamp ns>.<pending>[.<token>...]
 *
 * (the first form from servers before 2.10, the second from later ones, which may add tokens).
 * Read here from the bytes of the subject, without a string or an object per message.
 */

export interface AckInfo {
  /** Stream sequence. */
  streamSeq: number;
  /** Consumer (delivery) sequence: 1, 2, 3... per consumer when nothing is lost on the way. */
  deliverySeq: number;
  /** Times delivered (1 for a first delivery). */
  delivered: number;
  /** When the server stored the message, in whole milliseconds (the nanoseconds truncated). */
  timestampMs: number;
  /** Messages after this one that the consumer has yet to deliver. */
  pending: number;
}

const DOT = 46;
const D0 = 48;
const PREFIX = [36, 74, 83, 46, 65, 67, 75, 46]; // "$JS.ACK."
const MAX_TOKENS = 16;
/** Token boundaries of the last subject read: start of token i at 2i, its end at 2i+1. */
const bounds = new Int32Array(MAX_TOKENS * 2);

/**
 * Fills `out` from the reply subject `reply`; false when it is not a JetStream ack subject of
 * either form or a number in it is not a decimal that fits a double exactly.
 */
export function readAckReply(reply: Uint8Array | undefined, out: AckInfo): boolean {
  if (reply === undefined || reply.length < PREFIX.length) return false;
  for (let i = 0; i < PREFIX.length; i++) if (reply[i] !== PREFIX[i]) return false;
  let n = 0;
  let s = 0;
  for (let i = 0; i <= reply.length; i++) {
    if (i === reply.length || reply[i] === DOT) {
      if (n === MAX_TOKENS) return false;
      bounds[2 * n] = s;
      bounds[2 * n + 1] = i;
      n++;
      s = i + 1;
    }
  }
  // the first field after the consumer name: token 4 in the old form, 6 in the new one
  let f: number;
  if (n === 9) f = 4;
  else if (n >= 11) f = 6;
  else return false;
  const delivered = digits(reply, f);
  const streamSeq = digits(reply, f + 1);
  const deliverySeq = digits(reply, f + 2);
  const timestampMs = millis(reply, f + 3);
  const pending = digits(reply, f + 4);
  if (delivered < 0 || streamSeq < 0 || deliverySeq < 0 || timestampMs < 0 || pending < 0) return false;
  out.delivered = delivered;
  out.streamSeq = streamSeq;
  out.deliverySeq = deliverySeq;
  out.timestampMs = timestampMs;
  out.pending = pending;
  return true;
}

/** Token t as a number; -1 when empty, not all digits or past Number.MAX_SAFE_INTEGER. */
function digits(b: Uint8Array, t: number): number {
  return number(b, bounds[2 * t]!, bounds[2 * t + 1]!);
}

/** Token t, a count of nanoseconds, as whole milliseconds: its digits but the last six. */
function millis(b: Uint8Array, t: number): number {
  const s = bounds[2 * t]!;
  const e = bounds[2 * t + 1]!;
  if (e === s) return -1;
  // the last six digits must still be digits
  for (let i = Math.max(s, e - 6); i < e; i++) if (b[i]! - D0 < 0 || b[i]! - D0 > 9) return -1;
  return e - s <= 6 ? 0 : number(b, s, e - 6);
}

function number(b: Uint8Array, s: number, e: number): number {
  if (e === s) return -1;
  let v = 0;
  for (let i = s; i < e; i++) {
    const d = b[i]! - D0;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v <= Number.MAX_SAFE_INTEGER ? v : -1;
}
