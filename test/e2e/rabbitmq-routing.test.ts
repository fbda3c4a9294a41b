/**
 * A restore writes only where it was asked to (issue 14): RabbitMQ delivers a message carrying a
 * `CC` header also to every queue named there (sender-selected distribution), on a restore as on
 * the first publish. Publishing to the target queue (the default), mqbak keeps the value under
 * x-mqbak-original-cc and no other queue receives anything; --via-exchange keeps the header and
 * so the broker's routing (docs/RABBITMQ.md).
 */
import { describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { runMqbak } from '../helpers/run-mqbak.js';
import { env, declare, readQueue, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';
import { queueDepth, type RabbitConnection } from '../../src/brokers/rabbitmq/index.js';

const { newVhost, newStore } = useRabbitE2e();

/**
 * Queue `orders` gets four messages, three of them with `CC: [audit]` (two through the direct
 * exchange `x`, one through the default exchange), one without; `audit` is bound to `x` under the
 * key `audit`, so each CC'd message lands there too. Backed up, then both queues are emptied.
 */
async function setUp(prefix: string): Promise<{ url: string; conn: RabbitConnection; store: string }> {
  const { url, conn } = await newVhost(prefix);
  const store = await newStore();
  const ch = await conn.model.createConfirmChannel();
  await ch.assertExchange('x', 'direct', { durable: true });
  for (const q of ['orders', 'audit', 'orders-restored']) await declare(conn, q);
  await ch.bindQueue('orders', 'x', 'orders');
  await ch.bindQueue('audit', 'x', 'audit');
  const cc = { CC: ['audit'], app: 'shop' };
  ch.publish('x', 'orders', Buffer.from('m0'), { messageId: 'm0', headers: cc });
  ch.publish('x', 'orders', Buffer.from('m1'), { messageId: 'm1', headers: cc });
  ch.publish('', 'orders', Buffer.from('m2'), { messageId: 'm2', headers: cc });
  ch.publish('', 'orders', Buffer.from('m3'), { messageId: 'm3', headers: { app: 'shop' } });
  await ch.waitForConfirms();
  await ch.close();
  // what the broker did with the CC header when the messages were first published
  expect(await queueDepth(conn, 'audit')).toMatchObject({ messages: 3 });

  const b = await runMqbak(['backup', url, store, '--queues', 'orders'], { env });
  expect(b.stderr).not.toMatch(/error/);
  expect(b.code).toBe(0);
  expect(await readQueue(conn, 'orders', true)).toHaveLength(4);
  expect(await readQueue(conn, 'audit', true)).toHaveLength(3);
  return { url, conn, store };
}

function ids(ms: ConsumeMessage[]): string[] {
  return ms.map((m) => String(m.properties.messageId));
}

describe('RabbitMQ restore and the CC header', () => {
  it('publishing to the target queue (new name and same name), nothing reaches the queues CC names; the value is kept as x-mqbak-original-cc', async () => {
    const { url, conn, store } = await setUp('cc-default');

    const renamed = await runMqbak(['restore', store, url, '--map', 'orders=orders-restored', '--json'], { env });
    expect(renamed.code).toBe(0);
    expect(await queueDepth(conn, 'audit')).toMatchObject({ messages: 0 });
    expect(await queueDepth(conn, 'orders')).toMatchObject({ messages: 0 });
    expect(JSON.parse(renamed.stdout)).toMatchObject({ restored: 4, failed: 0, routingHeadersRenamed: 3 });
    expect(renamed.stderr).toMatch(/3 message\(s\) carried CC or BCC headers.*x-mqbak-original-cc/);
    const copy = await readQueue(conn, 'orders-restored', true);
    expect(ids(copy)).toEqual(['m0', 'm1', 'm2', 'm3']);
    for (const m of copy.slice(0, 3)) {
      expect(m.properties.headers).toEqual({ 'x-mqbak-original-cc': ['audit'], app: 'shop' });
    }
    expect(copy[3]!.properties.headers).toEqual({ app: 'shop' });

    const same = await runMqbak(['restore', store, url, '--json'], { env });
    expect(same.code).toBe(0);
    expect(await queueDepth(conn, 'audit')).toMatchObject({ messages: 0 });
    expect(JSON.parse(same.stdout)).toMatchObject({ restored: 4, failed: 0, routingHeadersRenamed: 3 });
    const back = await readQueue(conn, 'orders', true);
    expect(ids(back)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(back[0]!.properties.headers).toEqual({ 'x-mqbak-original-cc': ['audit'], app: 'shop' });
  });

  it('--via-exchange keeps CC: the broker routes each message again to the queues it names', async () => {
    const { url, conn, store } = await setUp('cc-via-exchange');

    const r = await runMqbak(['restore', store, url, '--map', 'orders=orders-restored', '--via-exchange', '--json'], { env });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ restored: 4, failed: 0 });
    expect(r.stderr).not.toMatch(/CC or BCC/);
    // m0 and m1 through x to its binding (orders), m2 and m3 from the default exchange to the target queue
    expect(ids(await readQueue(conn, 'orders', true))).toEqual(['m0', 'm1']);
    expect(ids(await readQueue(conn, 'orders-restored', true))).toEqual(['m2', 'm3']);
    const audit = await readQueue(conn, 'audit', true);
    expect(ids(audit)).toEqual(['m0', 'm1', 'm2']);
    for (const m of audit) expect(m.properties.headers).toEqual({ CC: ['audit'], app: 'shop' });
  });
});
