/**
 * readAckReply reads the delivery metadata of a JetStream message from the bytes of its reply
 * subject, in the form of servers before 2.10 and in the longer form of later ones.
 */
import { describe, expect, it } from 'vitest';
import { readAckReply, type AckInfo } from '../../../../src/brokers/nats/ack-reply.js';

const bytes = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const blank = (): AckInfo => ({ streamSeq: -1, deliverySeq: -1, delivered: -1, timestampMs: -1, pending: -1 });

function read(s: string): AckInfo | undefined {
  const out = blank();
  return readAckReply(bytes(s), out) ? out : undefined;
}

describe('readAckReply', () => {
  it('reads the nine-token form', () => {
    expect(read('$JS.ACK.ORDERS.mqbak_x1.1.42.7.1733370000123456789.99')).toEqual({
      delivered: 1,
      streamSeq: 42,
      deliverySeq: 7,
      timestampMs: 1733370000123,
      pending: 99,
    });
  });

  it('reads the form with domain and account hash, with or without tokens after the pending count', () => {
    const want = { delivered: 2, streamSeq: 5, deliverySeq: 3, timestampMs: 1733370000999, pending: 0 };
    expect(read('$JS.ACK.hub.ACCHASH.S.C.2.5.3.1733370000999999999.0.rand0m')).toEqual(want);
    expect(read('$JS.ACK._.ACCHASH.S.C.2.5.3.1733370000999999999.0')).toEqual(want);
    expect(read('$JS.ACK._.ACCHASH.S.C.2.5.3.1733370000999999999.0.a.b')).toEqual(want);
  });

  it('truncates nanoseconds to milliseconds exactly, past the precision of a double', () => {
    // 1733370000123999999 as a double is 1733370000124000000: dividing it would round up
    expect(read('$JS.ACK.S.C.1.1.1.1733370000123999999.0')?.timestampMs).toBe(1733370000123);
    expect(read('$JS.ACK.S.C.1.1.1.999999.0')?.timestampMs).toBe(0);
    expect(read('$JS.ACK.S.C.1.1.1.0.0')?.timestampMs).toBe(0);
    expect(read('$JS.ACK.S.C.1.1.1.1000000.0')?.timestampMs).toBe(1);
  });

  it('reads sequences up to 2^53 - 1 and refuses larger ones', () => {
    expect(read('$JS.ACK.S.C.1.9007199254740991.1.1.0')?.streamSeq).toBe(9007199254740991);
    expect(read('$JS.ACK.S.C.1.9007199254740992.1.1.0')).toBeUndefined();
    expect(read('$JS.ACK.S.C.1.18446744073709551615.1.1.0')).toBeUndefined();
  });

  it('refuses what is not an ack subject', () => {
    expect(readAckReply(undefined, blank())).toBe(false);
    for (const s of [
      '',
      '$JS.ACK',
      '_INBOX.abc.def',
      '$JS.API.CONSUMER.MSG.NEXT.S.C',
      '$JS.ACK.S.C.1.2.3.4', // eight tokens
      '$JS.ACK.D.H.S.C.1.2.3.4', // ten tokens
      '$JS.ACK.S.C.1.2.x.4.5', // not a number
      '$JS.ACK.S.C.1.2..4.5', // empty token
      '$JS.ACK.S.C.1.2.3.4.-5',
      '$JS.ACK.S.C.1.2.3.12x4567.5', // a non-digit among the nanoseconds
      '$JS.ACK.S.C.1.2.3.4567x.5',
      '$js.ack.S.C.1.2.3.4.5',
      '$JS.ACK.' + 'a.'.repeat(20) + '1',
    ]) {
      expect(readAckReply(bytes(s), blank()), s).toBe(false);
    }
  });

  it('leaves the output alone when it refuses', () => {
    const out = blank();
    readAckReply(bytes('$JS.ACK.S.C.1.2.3.4.x'), out);
    expect(out).toEqual(blank());
  });
});
