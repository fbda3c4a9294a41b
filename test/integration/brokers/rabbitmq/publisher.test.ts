/**
 * Publishing with confirms against the real broker: the same property bytes on the wire as the
 * original (headers with their types, no headers table, cluster-id), and returns and refusals
 * counted as failures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../helpers/brokers.js';
import { rabbitManagementUrl } from '../../../helpers/brokers.js';
import { amqpMetaOf } from '../../../../src/brokers/rabbitmq/amqp-json.js';
import { rawPropertiesOf } from '../../../../src/brokers/rabbitmq/connection.js';
import { toArchiveRecord } from '../../../../src/brokers/rabbitmq/delivery.js';
import { ConfirmPublisher, publishOptions } from '../../../../src/brokers/rabbitmq/publisher.js';
import { testVhost, TYPED_HEADERS, type TestVhost } from './test-vhost.js';

let t: TestVhost;
let conn: TestVhost['conn'];
let declare: TestVhost['declare'];
let publishRaw: TestVhost['publishRaw'];
let takeAll: TestVhost['takeAll'];

beforeAll(async () => {
  t = await testVhost('rmq-publisher');
  ({ conn, declare, publishRaw, takeAll } = t);
});

afterAll(async () => {
  await t?.close();
});

describe('publisher', () => {
  it('republishes with confirms so that the property bytes on the wire are identical', async () => {
    const src = uniqueName('src');
    const dst = uniqueName('dst');
    await declare(src);
    await declare(dst);
    const items = Array.from({ length: 20 }, (_, i) => ({
      body: Buffer.from(Array.from({ length: 64 }, (_, j) => (i * 7 + j) % 256)),
      options: {
        headers: { ...TYPED_HEADERS, seq: { '!': 'int32', value: i } },
        contentType: 'application/octet-stream',
        contentEncoding: 'identity',
        deliveryMode: 2,
        priority: i % 10,
        correlationId: `c${i}`,
        replyTo: 'replies',
        expiration: '3600000',
        messageId: `m${i}`,
        timestamp: 1700000000 + i,
        type: 'kind',
        userId: 'guest',
        appId: 'test',
      },
    }));
    await publishRaw(src, items);
    const original = await takeAll(src);
    expect(original).toHaveLength(20);
    const pub = await ConfirmPublisher.open(conn, { window: 7 });
    const outcomes = [];
    for (const m of original) {
      const rec = toArchiveRecord(m, 0n, { invalidUtf8: [] });
      const problems: string[] = [];
      const { outcome } = await pub.publish('', dst, Buffer.from(rec.value!), publishOptions(amqpMetaOf(rec).properties, problems));
      expect(problems).toEqual([]);
      outcomes.push(outcome);
    }
    expect((await Promise.all(outcomes)).every((o) => o.ok)).toBe(true);
    await pub.close();
    const copy = await takeAll(dst);
    expect(copy).toHaveLength(20);
    for (let i = 0; i < 20; i++) {
      expect(copy[i]!.content.equals(original[i]!.content)).toBe(true);
      expect(rawPropertiesOf(copy[i]!).equals(rawPropertiesOf(original[i]!))).toBe(true);
    }
  });

  it('a message without a headers table, or with cluster-id, republishes with the same property bytes', async () => {
    const src = uniqueName('nohdr');
    const dst = uniqueName('nohdr-copy');
    await declare(src);
    await declare(dst);
    // amqplib always sends a headers table: publish the originals through the management API
    for (const properties of [{ content_type: 'text/plain' }, { cluster_id: 'c-1', message_id: 'x' }, {}]) {
      const res = await fetch(`${rabbitManagementUrl()}/api/exchanges/${encodeURIComponent(t.vhost)}/amq.default/publish`, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
        body: JSON.stringify({ properties, routing_key: src, payload: 'p', payload_encoding: 'string' }),
      });
      expect(((await res.json()) as { routed: boolean }).routed).toBe(true);
    }
    const original = await takeAll(src);
    expect(original).toHaveLength(3);
    const props = original.map((m) => amqpMetaOf(toArchiveRecord(m, 0n, { invalidUtf8: [] })).properties);
    expect(props.map((p) => p.headers)).toEqual([undefined, undefined, undefined]);
    expect(props[1]!.clusterId).toBe('c-1');
    const pub = await ConfirmPublisher.open(conn);
    const outs = [];
    for (let i = 0; i < 3; i++) outs.push((await pub.publish('', dst, original[i]!.content, publishOptions(props[i]!))).outcome);
    expect((await Promise.all(outs)).every((o) => o.ok)).toBe(true);
    await pub.close();
    const copy = await takeAll(dst);
    for (let i = 0; i < 3; i++) expect(rawPropertiesOf(copy[i]!).equals(rawPropertiesOf(original[i]!))).toBe(true);
  });

  it('keeps at most the window unconfirmed, fills it, and every message is confirmed in order', async () => {
    const q = uniqueName('window');
    await declare(q);
    const window = 64;
    const pub = await ConfirmPublisher.open(conn, { window });
    const outcomes: Array<Promise<{ ok: boolean }>> = [];
    let over = 0;
    for (let i = 0; i < 3000; i++) {
      const { outcome } = await pub.publish('', q, Buffer.from(`m${i}`), { mandatory: true, deliveryMode: 2 });
      if (pub.inFlight > window) over++;
      outcomes.push(outcome);
    }
    await pub.settle();
    // settle() returns only once every outcome is known
    expect(pub.inFlight).toBe(0);
    expect(over).toBe(0);
    expect(pub.peakInFlight).toBe(window);
    const res = await Promise.all(outcomes);
    await pub.close();
    expect(res.every((r) => r.ok)).toBe(true);
    expect((await takeAll(q)).map((m) => m.content.toString())).toEqual(Array.from({ length: 3000 }, (_, i) => `m${i}`));
  });

  it('a failed channel fails every unconfirmed message and frees the window for the next channel', async () => {
    const q = uniqueName('fail');
    await declare(q);
    const pub = await ConfirmPublisher.open(conn, { window: 4 });
    // a user-id of another user makes the broker close the channel: what was unconfirmed on it fails
    const first = [];
    for (let i = 0; i < 3; i++) first.push((await pub.publish('', q, Buffer.from(`a${i}`), { mandatory: true, userId: i === 2 ? 'someone-else' : undefined })).outcome);
    const failed = await first[2]!;
    expect(failed.ok).toBe(false);
    expect(pub.inFlight).toBe(0);
    // the window is free again: more than a window's worth goes out on a new channel
    const next = [];
    for (let i = 0; i < 10; i++) next.push((await pub.publish('', q, Buffer.from(`b${i}`), { mandatory: true })).outcome);
    expect((await Promise.all(next)).every((o) => o.ok)).toBe(true);
    await pub.close();
    const got = (await takeAll(q)).map((m) => m.content.toString());
    expect(got.slice(-10)).toEqual(Array.from({ length: 10 }, (_, i) => `b${i}`));
  });

  it('counts an unroutable message as a failure and the others as confirmed', async () => {
    const q = uniqueName('ok');
    await declare(q);
    const pub = await ConfirmPublisher.open(conn);
    const a = await pub.publish('', q, Buffer.from('a'), { mandatory: true });
    const b = await pub.publish('', uniqueName('missing'), Buffer.from('b'), { mandatory: true });
    const c = await pub.publish('', q, Buffer.from('c'), { mandatory: true });
    const res = await Promise.all([a.outcome, b.outcome, c.outcome]);
    await pub.close();
    expect(res.map((r) => r.ok)).toEqual([true, false, true]);
    expect(res[1]!.reason).toMatch(/returned.*NO_ROUTE/);
    expect((await takeAll(q)).map((m) => m.content.toString())).toEqual(['a', 'c']);
  });

  it('a refused message (user-id of another user) fails alone; the publisher carries on', async () => {
    const q = uniqueName('uid');
    await declare(q);
    const pub = await ConfirmPublisher.open(conn);
    const a = await pub.publish('', q, Buffer.from('a'), { mandatory: true, userId: 'someone-else' });
    const ra = await a.outcome;
    const b = await pub.publish('', q, Buffer.from('b'), { mandatory: true });
    const rb = await b.outcome;
    await pub.close();
    expect(ra.ok).toBe(false);
    expect(rb.ok).toBe(true);
    expect((await takeAll(q)).map((m) => m.content.toString())).toEqual(['b']);
  });

  it('messages with encoded properties go out in order with the others, are returned when unroutable, and move to a new channel after a failure', async () => {
    const q = uniqueName('encoded');
    await declare(q);
    const pub = await ConfirmPublisher.open(conn, { window: 4 });
    expect(pub.writesFrames).toBe(true);
    // flags with delivery-mode only, and delivery-mode 2
    const props = Buffer.from([0x10, 0x00, 2]);
    const first = [
      (await pub.publishEncoded('', q, props, Buffer.from('e0'))).outcome,
      (await pub.publish('', q, Buffer.from('p1'), { mandatory: true })).outcome,
      (await pub.publishEncoded('', q, props, Buffer.from('e2'))).outcome,
    ];
    expect((await Promise.all(first)).map((o) => o.ok)).toEqual([true, true, true]);
    const missing = await (await pub.publishEncoded('', uniqueName('missing'), props, Buffer.from('m'))).outcome;
    expect(missing).toMatchObject({ ok: false, reason: expect.stringMatching(/returned.*NO_ROUTE/) });
    // the broker closes the channel; another channel takes its number, so the next one has another
    const refused = await (await pub.publish('', q, Buffer.from('x'), { mandatory: true, userId: 'someone-else' })).outcome;
    expect(refused.ok).toBe(false);
    const holder = await conn.model.createChannel();
    const after = [];
    for (let i = 0; i < 6; i++) after.push((await pub.publishEncoded('', q, props, Buffer.alloc(200_000, i))).outcome);
    expect((await Promise.all(after)).every((o) => o.ok)).toBe(true);
    await pub.close();
    await holder.close();
    const got = await takeAll(q);
    expect(got.map((m) => (m.content.length > 100 ? `f${m.content[0]}` : m.content.toString()))).toEqual(['e0', 'p1', 'e2', 'f0', 'f1', 'f2', 'f3', 'f4', 'f5']);
    expect(got.every((m) => m.content.length !== 200_000 || m.content.every((b) => b === m.content[0]))).toBe(true);
    for (const i of [0, 2, 3, 8]) expect(rawPropertiesOf(got[i]!).toString('hex')).toBe('100002');
  });
});
