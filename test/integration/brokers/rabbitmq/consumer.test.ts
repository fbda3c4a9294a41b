/** A consumer that closes without acknowledging returns a classic queue intact and in order. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../helpers/brokers.js';
import type { ConsumeMessage } from 'amqplib';
import { QueueConsumer } from '../../../../src/brokers/rabbitmq/consumer.js';
import { propertiesOf, rawPropertiesOf } from '../../../../src/brokers/rabbitmq/connection.js';
import { testVhost, TYPED_HEADERS, type TestVhost } from './test-vhost.js';

let t: TestVhost;
let conn: TestVhost['conn'];
let declare: TestVhost['declare'];
let publishRaw: TestVhost['publishRaw'];
let takeAll: TestVhost['takeAll'];

beforeAll(async () => {
  t = await testVhost('rmq-consumer');
  ({ conn, declare, publishRaw, takeAll } = t);
});

afterAll(async () => {
  await t?.close();
});

describe('consumer', () => {
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

  async function readSlowly(c: QueueConsumer, n: number): Promise<{ seen: string[]; most: number }> {
    const seen: string[] = [];
    let most = 0;
    // a slow reader: the broker could send everything meanwhile
    await new Promise((r) => setTimeout(r, 300));
    while (seen.length < n) {
      most = Math.max(most, c.pending);
      const m = await c.next(5000);
      if (!m) break;
      seen.push(m.content.toString().replace(/\.+$/, ''));
      if (seen.length % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    return { seen, most };
  }

  it('with a hold limit, the connection stops reading while that many deliveries wait, and the rest comes in order as they are taken', async () => {
    const q = uniqueName('hold');
    await declare(q);
    const n = 3000;
    await publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${i}`.padEnd(200, '.')), options: {} })));
    const c = await QueueConsumer.open(conn, q, { prefetch: n, holdAtMost: { messages: 100, bytes: 1 << 30 } });
    const { seen, most } = await readSlowly(c, n);
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    // the frames of one socket read past the limit may still be parsed: far below the 3000 sent
    expect(most).toBeGreaterThanOrEqual(100);
    expect(most).toBeLessThan(400);
    // the channel still answers (close-ok is read) and everything went back
    await c.close();
    const after = await takeAll(q);
    expect(after.length).toBe(n);
  });

  it('with a hold limit and several consumers, opening does not wait on a paused connection', async () => {
    const q = uniqueName('hold-many');
    await declare(q);
    const n = 3000;
    await publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${i}`.padEnd(200, '.')), options: {} })));
    // per-consumer cap of 500: six consumers, the later ones opened while deliveries arrive
    const c = await QueueConsumer.open(conn, q, { prefetch: n, maxPrefetchPerConsumer: 500, holdAtMost: { messages: 100, bytes: 1 << 30 } });
    const { seen } = await readSlowly(c, n);
    await c.close();
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    expect((await takeAll(q)).length).toBe(n);
  });

  it('with a hold limit and several consumers, the next consumer opens once the others sent all they may: what waits stays at the limit', async () => {
    const q = uniqueName('hold-open');
    await declare(q);
    const n = 3000;
    await publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${i}`), options: {} })));
    // three consumers of 1,000: the second's consume-ok used to come behind the first's 1,000
    // deliveries, all read while the connection could not be held off
    const c = await QueueConsumer.open(conn, q, { prefetch: n, maxPrefetchPerConsumer: 1000, holdAtMost: { messages: 100, bytes: 1 << 30 } });
    await new Promise((r) => setTimeout(r, 500));
    const waiting = c.pending;
    const { seen, most } = await readSlowly(c, n);
    await c.close();
    expect(waiting).toBe(100);
    expect(most).toBe(100);
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    expect((await takeAll(q)).length).toBe(n);
  });

  it('with a hold limit in bytes, reading pauses at that many bytes waiting', async () => {
    const q = uniqueName('hold-bytes');
    await declare(q);
    const n = 400;
    await publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.alloc(10_000, i % 256), options: {} })));
    const c = await QueueConsumer.open(conn, q, { prefetch: n, holdAtMost: { messages: 1_000_000, bytes: 200_000 } });
    await new Promise((r) => setTimeout(r, 300));
    const most = c.pending;
    let got = 0;
    while (got < n && (await c.next(5000))) got++;
    await c.close();
    expect(got).toBe(n);
    expect(most).toBeGreaterThanOrEqual(20);
    expect(most).toBeLessThan(100);
  });

  it('with rawProperties, amqplib decodes no content header and the captured bytes are those the decoding consumer gets, for frames split across socket reads', async () => {
    const q = uniqueName('raw-props');
    await declare(q);
    const n = 600;
    // bodies of up to 300 kB span several frames (frame_max 128 kB); the varied sizes put header
    // frames across the ends of the socket's chunks
    const sizes = Array.from({ length: n }, (_, i) => (i % 97 === 0 ? 300_000 : 1 + ((i * 7919) % 3000)));
    await publishRaw(
      q,
      sizes.map((size, i) => ({
        body: Buffer.alloc(size, i % 251),
        options: { messageId: `id-${i}`, priority: i % 10, timestamp: 1_700_000_000 + i, headers: { ...TYPED_HEADERS, n: i, pad: 'x'.repeat(i % 300) } },
      })),
    );
    async function readAll(rawProperties: boolean): Promise<ConsumeMessage[]> {
      const c = await QueueConsumer.open(conn, q, { prefetch: n, rawProperties, holdAtMost: { messages: 50, bytes: 1 << 20 } });
      const got: ConsumeMessage[] = [];
      try {
        for (let m = await c.next(5000); m; m = got.length < n ? await c.next(5000) : null) got.push(m);
      } finally {
        await c.close();
      }
      return got;
    }
    const raw = await readAll(true);
    const decoded = await readAll(false);
    expect(raw.length).toBe(n);
    expect(decoded.length).toBe(n);
    for (let i = 0; i < n; i++) {
      const r = raw[i]!;
      const d = decoded[i]!;
      expect(r.content.equals(d.content)).toBe(true);
      expect(r.content.length).toBe(sizes[i]);
      // the frame reader's own delivery fields (most read whole there; the 300 kB ones by amqplib)
      expect([r.fields.deliveryTag, r.fields.exchange, r.fields.routingKey]).toEqual([d.fields.deliveryTag, d.fields.exchange, d.fields.routingKey]);
      expect(r.fields.routingKey).toBe(q);
      // read first, then returned by closing the channel: the decoding consumer's read is the redelivery
      expect([r.fields.redelivered, d.fields.redelivered]).toEqual([false, true]);
      expect(Object.keys(r.properties)).toEqual([]);
      expect(d.properties.messageId).toBe(`id-${i}`);
      expect(rawPropertiesOf(r).equals(rawPropertiesOf(d))).toBe(true);
      const p = propertiesOf(r, { invalidUtf8: [] });
      expect(p.messageId).toBe(`id-${i}`);
      expect(p.headers?.map((h) => h.name)).toEqual(Object.keys(d.properties.headers ?? {}));
    }
    expect((await takeAll(q)).length).toBe(n);
  });
});
