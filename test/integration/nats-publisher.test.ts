/**
 * The publisher against the real nats-server: target sequences in order, header blocks published
 * as given (a source's own Nats-Msg-Id deduplicated by the server is a failure), and a message
 * the stream does not take reported as a failure, not dropped.
 */
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../src/common/errors.js';
import { describeStream, StreamPublisher, type NatsConnection, type PublishMessage } from '../../src/brokers/nats/index.js';
import { bytes, createStream, useNatsConnection } from '../helpers/nats.js';

let conn: NatsConnection;
const streams: string[] = [];

useNatsConnection((c) => (conn = c), streams);

async function newStream(prefix: string, config: Record<string, unknown> = {}): Promise<string> {
  const s = await createStream(conn, prefix, config);
  streams.push(s);
  return s;
}

const messages = (subject: string, n: number, firstSeq = 1): PublishMessage[] =>
  Array.from({ length: n }, (_, i) => ({ subject, headers: [{ name: 'I', value: bytes(String(i)) }], data: bytes(`d${i}`), sourceSeq: firstSeq + i * 2 }));

describe('NATS publisher', () => {
  it('returns the target sequence of each message in order, for a window of 1 and of many', async () => {
    for (const window of [1, 64]) {
      const s = await newStream('nats-pub-order');
      const pub = await StreamPublisher.open(conn, { stream: s, window });
      const out = await pub.publish(messages(`${s}.x`, 500));
      pub.close();
      expect(out.map((o) => (o.ok ? o.targetSeq : o.reason))).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
      // stored in the order sent: message i has header I = i
      const got = await conn.jsm.streams.getMessage(s, { seq: 377 });
      expect(got?.header.get('I')).toBe('376');
    }
  });

  it('adds nothing to a header block, and reports a message the stream takes for a duplicate of its own Nats-Msg-Id', async () => {
    const s = await newStream('nats-pub-dedup');
    const pub = await StreamPublisher.open(conn, { stream: s });
    const id = (v: string) => [{ name: 'Nats-Msg-Id', value: bytes(v) }];
    const batch: PublishMessage[] = [
      { subject: `${s}.x`, headers: id('a'), data: bytes('1'), sourceSeq: 1 },
      { subject: `${s}.x`, headers: [], data: bytes('2'), sourceSeq: 2 },
      { subject: `${s}.x`, headers: id('a'), data: bytes('3'), sourceSeq: 3 },
      { subject: `${s}.x`, headers: id('b'), data: bytes('4'), sourceSeq: 4 },
    ];
    const out = await pub.publish(batch);
    pub.close();
    expect(out.map((o) => (o.ok ? o.targetSeq : o.reason))).toEqual([1, 2, expect.stringMatching(/duplicate of its message 1 .*Nats-Msg-Id/), 3]);
    expect((await describeStream(conn, s)).messages).toBe(3);
    const keys = async (seq: number) => (await conn.jsm.streams.getMessage(s, { seq }))?.header?.keys() ?? [];
    expect(await keys(2)).toEqual([]);
    expect(await keys(3)).toEqual(['Nats-Msg-Id']);
  });

  it('reports a message whose subject the stream does not take, and publishes the others in order', async () => {
    const s = await newStream('nats-pub-subject');
    const pub = await StreamPublisher.open(conn, { stream: s });
    const batch = messages(`${s}.x`, 5);
    batch[2] = { ...batch[2]!, subject: 'elsewhere.x' };
    batch[3] = { ...batch[3]!, headers: [{ name: 'Bad', value: bytes('a\r\nb') }] };
    const out = await pub.publish(batch);
    pub.close();
    expect(out.map((o) => o.ok)).toEqual([true, true, false, false, true]);
    expect(out[2]).toMatchObject({ ok: false, sourceSeq: 5, reason: expect.stringMatching(/subject elsewhere\.x is not among the subjects of stream/) });
    expect(out[3]).toMatchObject({ ok: false, sourceSeq: 7, reason: expect.stringMatching(/line break/) });
    expect(out[4]).toMatchObject({ ok: true, targetSeq: 3 });
    expect((await describeStream(conn, s)).messages).toBe(3);
  });

  it('reports what the stream refuses (a limit), and fails the whole call when the stream is gone', async () => {
    const s = await newStream('nats-pub-limit', { max_msgs: 3, discard: 'new' });
    const pub = await StreamPublisher.open(conn, { stream: s, window: 1 });
    const out = await pub.publish(messages(`${s}.x`, 5));
    expect(out.map((o) => o.ok)).toEqual([true, true, true, false, false]);
    expect(out[3]).toMatchObject({ ok: false, reason: expect.stringMatching(/maximum messages exceeded/i) });
    await conn.jsm.streams.delete(s);
    const e = await pub.publish(messages(`${s}.x`, 2, 100)).catch((x: unknown) => x);
    pub.close();
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('unreachable');
  });
});
