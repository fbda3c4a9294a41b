/**
 * RabbitMQ backup and restore through the mqbak binary against the real broker (issue 5):
 * mirror leaves classic queues as they were and streams untouched, quorum queues with a delivery
 * limit are refused, and a round trip into a new vhost with --definitions and a renamed queue gives
 * byte-identical messages in order. (A drain killed with SIGKILL: rabbitmq-drain.test.ts.)
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { runMqbak } from '../helpers/run-mqbak.js';
import { env, management, declare, readQueue, readStreamQueue, fullProperties, streamProperties, body, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';
import { queueDepth, rawPropertiesOf } from '../../src/brokers/rabbitmq/index.js';
import { rabbitManagementUrl } from '../helpers/brokers.js';

const { newVhost, newStore } = useRabbitE2e();

describe('mqbak backup/restore with RabbitMQ', () => {
  beforeAll(() => {
    // the tests run the built binary: npm run build (or npm test) first
  });

  it('mirror of a classic queue leaves it with the same messages in the same order', async () => {
    const { url, conn } = await newVhost('mirror-classic');
    const store = await newStore();
    const q = 'jobs';
    await declare(conn, q);
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 200; i++) ch.sendToQueue(q, body(i), fullProperties(i));
    await ch.waitForConfirms();
    await ch.close();

    const r = await runMqbak(['backup', url, store, '--queues', q, '--json'], { env });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; kind: string; records: number; streams: Array<{ records: number; returnedToQueue: boolean }> };
    expect(out.kind).toBe('full');
    expect(out.records).toBe(200);
    expect(out.streams[0]!.returnedToQueue).toBe(true);

    const after = await readQueue(conn, q, false);
    expect(after).toHaveLength(200);
    for (let i = 0; i < 200; i++) {
      expect(after[i]!.content.equals(body(i))).toBe(true);
      expect(after[i]!.properties.messageId).toBe(`msg-${i}`);
      // what RabbitMQ does to a returned message, and the docs say
      expect(after[i]!.fields.redelivered).toBe(true);
    }
    const text = await runMqbak(['backup', url, store, '--queues', q], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/returned to the queue \(RabbitMQ now marks them redelivered\)/);
  });

  it('mirror of a stream queue leaves it untouched and the next backup continues after the last offset', async () => {
    const { url, conn } = await newVhost('mirror-stream');
    const store = await newStore();
    const q = 'events';
    await declare(conn, q, { 'x-queue-type': 'stream' });
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 50; i++) ch.sendToQueue(q, body(i), streamProperties(i));
    await ch.waitForConfirms();
    const before = await readStreamQueue(conn, q);
    expect(before).toHaveLength(50);

    const r1 = await runMqbak(['backup', url, store, '--queues', q, '--json'], { env });
    expect(r1.code).toBe(0);
    const b1 = JSON.parse(r1.stdout) as { id: string; kind: string; records: number };
    expect(b1).toMatchObject({ kind: 'full', records: 50 });
    expect(await readStreamQueue(conn, q)).toEqual(before);

    for (let i = 50; i < 60; i++) ch.sendToQueue(q, body(i), streamProperties(i));
    await ch.waitForConfirms();
    await ch.close();
    const r2 = await runMqbak(['backup', url, store, '--queues', q, '--json'], { env });
    expect(r2.code).toBe(0);
    const b2 = JSON.parse(r2.stdout) as { kind: string; parent: string; records: number };
    expect(b2).toMatchObject({ kind: 'incremental', parent: b1.id, records: 10 });
    const show = await runMqbak(['show', store, (JSON.parse(r2.stdout) as { id: string }).id, '--json'], { env });
    expect(show.code).toBe(0);
    const manifest = JSON.parse(show.stdout) as { streams: Array<{ from: string; to: string }> };
    expect(manifest.streams[0]).toMatchObject({ from: '50', to: '60' });
  });

  it('refuses to mirror a quorum queue with a delivery limit (exit 2) and leaves it as it was', async () => {
    const { url, conn } = await newVhost('mirror-quorum');
    const store = await newStore();
    const q = 'payments';
    await declare(conn, q, { 'x-queue-type': 'quorum', 'x-delivery-limit': 3 });
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, body(i), { messageId: `m${i}` });
    await ch.waitForConfirms();
    await ch.close();

    const r = await runMqbak(['backup', url, store, '--queues', q], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/refusing to mirror quorum queue payments \(delivery limit 3\)/);
    expect(r.stderr).toMatch(/hint: .*--accept-redelivery-risk/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const after = await readQueue(conn, q, false);
    expect(after.map((m) => m.properties.messageId)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    // never delivered before: no delivery count yet
    expect(after.every((m) => m.properties.headers?.['x-delivery-count'] === undefined)).toBe(true);
  });

  it('also refuses when the delivery limit comes from a policy, and mirrors with --accept-redelivery-risk', async () => {
    const { vhost, url, conn } = await newVhost('mirror-quorum-policy');
    const store = await newStore();
    const q = 'orders-q';
    await declare(conn, q, { 'x-queue-type': 'quorum' });
    const put = await fetch(`${rabbitManagementUrl()}/api/policies/${encodeURIComponent(vhost)}/limit`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pattern: '^orders', 'apply-to': 'queues', definition: { 'delivery-limit': 50 }, priority: 0 }),
    });
    expect(put.status).toBeLessThan(300);
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 4; i++) ch.sendToQueue(q, body(i), { messageId: `m${i}` });
    await ch.waitForConfirms();
    await ch.close();
    const refused = await runMqbak(['backup', url, store, '--queues', q], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/delivery limit 50/);
    const accepted = await runMqbak(['backup', url, store, '--queues', q, '--accept-redelivery-risk', '--json'], { env });
    expect(accepted.stderr).not.toMatch(/error/);
    expect(accepted.code).toBe(0);
    expect(JSON.parse(accepted.stdout)).toMatchObject({ records: 4 });
    const after = await readQueue(conn, q, false);
    // order kept; each return counted by the quorum queue
    expect(after.map((m) => m.properties.messageId)).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(after.every((m) => Number(m.properties.headers?.['x-delivery-count']) >= 1)).toBe(true);
  });

  it('round trip into a new vhost with --definitions and a renamed queue: byte-identical, in order, bindings and policies present', async () => {
    const src = await newVhost('rt-src');
    const dst = await newVhost('rt-dst');
    const store = await newStore();
    const ch = await src.conn.model.createConfirmChannel();
    await ch.assertExchange('orders-x', 'topic', { durable: true });
    await ch.assertQueue('orders', { durable: true, arguments: { 'x-max-priority': 10 } });
    await ch.bindQueue('orders', 'orders-x', 'order.#');
    const policy = await fetch(`${rabbitManagementUrl()}/api/policies/${encodeURIComponent(src.vhost)}/orders-limit`, {
      method: 'PUT',
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pattern: '^orders', 'apply-to': 'queues', definition: { 'max-length': 100000 }, priority: 1 }),
    });
    expect(policy.status).toBeLessThan(300);
    for (let i = 0; i < 120; i++) ch.publish('orders-x', `order.${i % 3}`, body(i), fullProperties(i));
    await ch.waitForConfirms();
    await ch.close();
    const original = await readQueue(src.conn, 'orders', false);
    expect(original).toHaveLength(120);

    const b = await runMqbak(['backup', src.url, store, '--queues', 'orders', '--json'], { env });
    expect(b.stderr).not.toMatch(/error/);
    expect(b.code).toBe(0);

    const r = await runMqbak(['restore', store, dst.url, '--definitions', '--map', 'orders=orders-restored', '--json'], { env });
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { restored: number; failed: number; streams: Array<{ source: string; target: string; restored: number }>; definitions: { created: string[] } };
    expect(res).toMatchObject({ restored: 120, failed: 0 });
    expect(res.streams).toEqual([expect.objectContaining({ source: 'orders', target: 'orders-restored', restored: 120 })]);

    const copy = await readQueue(dst.conn, 'orders-restored', true);
    expect(copy).toHaveLength(120);
    for (let i = 0; i < 120; i++) {
      expect(copy[i]!.content.equals(original[i]!.content)).toBe(true);
      // the property bytes on the wire, typed headers included
      expect(rawPropertiesOf(copy[i]!).equals(rawPropertiesOf(original[i]!))).toBe(true);
      expect(copy[i]!.fields.exchange).toBe(''); // republished to the queue, not via the exchange
    }
    const bindings = (await management(`/api/bindings/${encodeURIComponent(dst.vhost)}`)) as Array<Record<string, unknown>>;
    expect(bindings).toContainEqual(
      expect.objectContaining({ source: 'orders-x', destination: 'orders-restored', destination_type: 'queue', routing_key: 'order.#' }),
    );
    const policies = (await management(`/api/policies/${encodeURIComponent(dst.vhost)}`)) as Array<Record<string, unknown>>;
    expect(policies).toContainEqual(expect.objectContaining({ name: 'orders-limit', pattern: '^orders', definition: { 'max-length': 100000 } }));
    const queue = (await management(`/api/queues/${encodeURIComponent(dst.vhost)}/orders-restored`)) as { arguments: Record<string, unknown> };
    expect(queue.arguments).toEqual({ 'x-max-priority': 10 });
    expect(await queueDepth(src.conn, 'orders')).toMatchObject({ messages: 120 }); // the source kept everything

    // a second restore (a real one: --dry-run returns before definitions are applied) finds the
    // definitions in place and says so, creating and changing none of them
    expect(res.definitions.created.length).toBeGreaterThan(0);
    const bindingsBefore = bindings.length;
    const again = await runMqbak(['restore', store, dst.url, '--definitions', '--map', 'orders=orders-restored', '--json'], { env });
    expect(again.stderr).not.toMatch(/error/);
    expect(again.code).toBe(0);
    const second = JSON.parse(again.stdout) as { restored: number; definitions: { created: string[]; unchanged: string[]; conflicts: string[] } };
    expect(second.restored).toBe(120); // the messages are published again: restore appends
    expect(second.definitions.created).toEqual([]);
    expect(second.definitions.conflicts).toEqual([]);
    expect([...second.definitions.unchanged].sort()).toEqual([...res.definitions.created].sort());
    expect(((await management(`/api/bindings/${encodeURIComponent(dst.vhost)}`)) as unknown[]).length).toBe(bindingsBefore);
    expect((await management(`/api/policies/${encodeURIComponent(dst.vhost)}`)) as unknown[]).toEqual(policies);
    expect(((await management(`/api/queues/${encodeURIComponent(dst.vhost)}/orders-restored`)) as { arguments: Record<string, unknown> }).arguments).toEqual({ 'x-max-priority': 10 });
  });

  it('restore into a missing queue without --definitions fails clearly; an unroutable --via-exchange message is a counted failure (exit 3)', async () => {
    const src = await newVhost('rt-fail-src');
    const dst = await newVhost('rt-fail-dst');
    const store = await newStore();
    const ch = await src.conn.model.createConfirmChannel();
    await ch.assertExchange('x', 'direct', { durable: true });
    await ch.assertQueue('q', { durable: true });
    await ch.bindQueue('q', 'x', 'k');
    for (let i = 0; i < 3; i++) ch.publish('x', 'k', body(i), { messageId: `m${i}` });
    await ch.waitForConfirms();
    await ch.close();
    expect((await runMqbak(['backup', src.url, store, '--queues', 'q'], { env })).code).toBe(0);

    const missing = await runMqbak(['restore', store, dst.url], { env });
    expect(missing.code).toBe(10);
    expect(missing.stderr).toMatch(/target queue q does not exist/);
    expect(missing.stderr).toMatch(/hint: .*--definitions/);

    // the exchange exists on the target but nothing is bound: every message comes back
    const dch = await dst.conn.model.createChannel();
    await dch.assertExchange('x', 'direct', { durable: true });
    await dch.close();
    const unroutable = await runMqbak(['restore', store, dst.url, '--via-exchange', '--json'], { env });
    expect(unroutable.code).toBe(3);
    expect(JSON.parse(unroutable.stdout)).toMatchObject({ restored: 0, failed: 3 });
  });
});
