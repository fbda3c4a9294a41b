/**
 * The RabbitMQ adapter against the real broker: typed header capture, republishing with the same
 * property bytes, consumers that return messages in order, and confirms that count returns.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { amqpMetaOf } from '../../src/brokers/rabbitmq/amqp-json.js';
import { createVhost, deleteVhost, rabbitManagementUrl, rabbitUrl, uniqueName } from '../helpers/brokers.js';
import { connectRabbit, rawPropertiesOf, type RabbitConnection } from '../../src/brokers/rabbitmq/connection.js';
import { QueueConsumer, queueDepth } from '../../src/brokers/rabbitmq/consumer.js';
import { toArchiveRecord } from '../../src/brokers/rabbitmq/delivery.js';
import { ConfirmPublisher, publishOptions } from '../../src/brokers/rabbitmq/publisher.js';

let vhost: string;
let conn: RabbitConnection;

beforeAll(async () => {
  vhost = uniqueName('rmq-adapter');
  await createVhost(vhost);
  conn = await connectRabbit(rabbitUrl(vhost));
});

afterAll(async () => {
  await conn?.close();
  if (vhost) await deleteVhost(vhost);
});

async function declare(queue: string, args: Record<string, unknown> = {}): Promise<void> {
  const ch = await conn.model.createChannel();
  await ch.assertQueue(queue, { durable: true, arguments: args });
  await ch.close();
}

async function publishRaw(queue: string, items: Array<{ body: Buffer; options: Record<string, unknown> }>): Promise<void> {
  const ch = await conn.model.createConfirmChannel();
  for (const i of items) ch.sendToQueue(queue, i.body, i.options);
  await ch.waitForConfirms();
  await ch.close();
}

/** Takes (and acks) every message of a queue. */
async function takeAll(queue: string): Promise<ConsumeMessage[]> {
  const { messages } = await queueDepth(conn, queue);
  if (messages === 0) return [];
  const c = await QueueConsumer.open(conn, queue, { prefetch: messages });
  const out: ConsumeMessage[] = [];
  try {
    while (out.length < messages) {
      const m = await c.next(5000);
      if (!m) break;
      out.push(m);
    }
    if (out.length > 0) c.ack(out[out.length - 1]!.fields.deliveryTag, true);
  } finally {
    await c.close();
  }
  return out;
}

const TYPED_HEADERS = {
  byte: { '!': 'int8', value: -3 },
  ubyte: { '!': 'uint8', value: 200 },
  short: { '!': 'int16', value: -300 },
  ushort: { '!': 'uint16', value: 60000 },
  int: { '!': 'int32', value: -70000 },
  uint: { '!': 'uint32', value: 4000000000 },
  long: { '!': 'int64', value: '9007199254740993' },
  float: { '!': 'float', value: 1.5 },
  double: { '!': 'double', value: 2 },
  dec: { '!': 'decimal', value: { places: 2, digits: 1234 } },
  ts: { '!': 'timestamp', value: 1700000000 },
  str: 'text ü',
  bin: Buffer.from([0, 255, 1]),
  flag: false,
  nothing: null,
  list: [1, 'two', { '!': 'float', value: 3.25 }],
  nested: { inner: { '!': 'int64', value: 5 } },
};

describe('RabbitMQ adapter', () => {
  it('captures every header with its AMQP wire type', async () => {
    const q = uniqueName('typed');
    await declare(q);
    await publishRaw(q, [{ body: Buffer.from('x'), options: { headers: TYPED_HEADERS, contentType: 'text/plain', priority: 4, timestamp: 1700000002 } }]);
    const [m] = await takeAll(q);
    const rec = toArchiveRecord(m!, 0n, { invalidUtf8: [] });
    const h = Object.fromEntries(amqpMetaOf(rec).properties.headers!.map((f) => [f.name, f.value]));
    expect(h.byte).toEqual({ type: 'int8', value: -3 });
    expect(h.ubyte).toEqual({ type: 'uint8', value: 200 });
    expect(h.short).toEqual({ type: 'int16', value: -300 });
    expect(h.ushort).toEqual({ type: 'uint16', value: 60000 });
    expect(h.int).toEqual({ type: 'int32', value: -70000 });
    expect(h.uint).toEqual({ type: 'uint32', value: 4000000000 });
    expect(h.long).toEqual({ type: 'int64', value: '9007199254740993' });
    expect(h.float).toEqual({ type: 'float', value: 1.5 });
    expect(h.double).toEqual({ type: 'double', value: 2 });
    expect(h.dec).toEqual({ type: 'decimal', places: 2, digits: 1234 });
    expect(h.ts).toEqual({ type: 'timestamp', value: 1700000000 });
    expect(h.str).toEqual({ type: 'string', value: 'text ü' });
    expect(h.bin).toEqual({ type: 'bytes', value: Buffer.from([0, 255, 1]).toString('base64') });
    expect(h.flag).toEqual({ type: 'bool', value: false });
    expect(h.nothing).toEqual({ type: 'void' });
    expect(h.list).toEqual({ type: 'array', value: [{ type: 'int8', value: 1 }, { type: 'string', value: 'two' }, { type: 'float', value: 3.25 }] });
    expect(h.nested).toEqual({ type: 'table', value: [{ name: 'inner', value: { type: 'int64', value: '5' } }] });
    expect(amqpMetaOf(rec).properties.priority).toBe(4);
    expect(rec.timestamp).toBe(1700000002000);
  });

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
      const res = await fetch(`${rabbitManagementUrl()}/api/exchanges/${encodeURIComponent(vhost)}/amq.default/publish`, {
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

  it('a consumer that closes without acking returns a classic queue intact and in order, also across several consumers', async () => {
    const q = uniqueName('peek');
    await declare(q);
    const n = 25;
    await publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${i}`), options: {} })));
    // per-consumer cap of 4: seven consumers on one channel share the 25 deliveries
    const c = await QueueConsumer.open(conn, q, { prefetch: n, maxPrefetchPerConsumer: 4 });
    const seen: string[] = [];
    while (seen.length < n) {
      const m = await c.next(5000);
      if (!m) break;
      seen.push(m.content.toString());
    }
    await c.close();
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    const after = await takeAll(q);
    expect(after.map((m) => m.content.toString())).toEqual(seen);
    expect(after.every((m) => m.fields.redelivered)).toBe(true);
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
});
