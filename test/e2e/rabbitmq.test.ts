/**
 * RabbitMQ backup and restore through the mqbak binary against the real broker (issue 5):
 * mirror leaves classic queues as they were and streams untouched, quorum queues with a delivery
 * limit are refused, a drain killed with SIGKILL loses nothing, and a round trip into a new vhost
 * with --definitions and a renamed queue gives byte-identical messages in order.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { createVhost, deleteVhost, rabbitManagementUrl, rabbitUrl, uniqueName } from '../helpers/brokers.js';
import { MQBAK_BIN, runMqbak } from '../helpers/run-mqbak.js';
import { connectRabbit, QueueConsumer, queueDepth, rawPropertiesOf, type RabbitConnection } from '../../src/brokers/rabbitmq/index.js';

const vhosts: string[] = [];
const dirs: string[] = [];
const conns: RabbitConnection[] = [];

async function newVhost(prefix: string): Promise<{ vhost: string; url: string; conn: RabbitConnection }> {
  const vhost = uniqueName(prefix);
  await createVhost(vhost);
  vhosts.push(vhost);
  const conn = await connectRabbit(rabbitUrl(vhost));
  conns.push(conn);
  return { vhost, url: rabbitUrl(vhost), conn };
}

async function newStore(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mqbak-rmq-'));
  dirs.push(d);
  return d;
}

afterAll(async () => {
  for (const c of conns) await c.close();
  for (const v of vhosts) await deleteVhost(v);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const env = { MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl() };

async function management(pathname: string): Promise<unknown> {
  const res = await fetch(`${rabbitManagementUrl()}${pathname}`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function declare(conn: RabbitConnection, queue: string, args: Record<string, unknown> = {}): Promise<void> {
  const ch = await conn.model.createChannel();
  await ch.assertQueue(queue, { durable: true, arguments: args });
  await ch.close();
}

/** Reads every message of a queue; acks them (removing them) only when `remove`. */
async function readQueue(conn: RabbitConnection, queue: string, remove: boolean): Promise<ConsumeMessage[]> {
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
    if (remove && out.length > 0) c.ack(out[out.length - 1]!.fields.deliveryTag, true);
  } finally {
    await c.close();
  }
  return out;
}

/** Reads a stream queue from its first offset to the end, acking only for credit. */
async function readStreamQueue(conn: RabbitConnection, queue: string): Promise<Array<{ body: string; props: Buffer }>> {
  const c = await QueueConsumer.open(conn, queue, { prefetch: 500, arguments: { 'x-stream-offset': 'first' } });
  const out: Array<{ body: string; props: Buffer }> = [];
  try {
    for (;;) {
      const m = await c.next(1500);
      if (!m) break;
      out.push({ body: m.content.toString('base64'), props: rawPropertiesOf(m) });
      c.ack(m.fields.deliveryTag, false);
    }
  } finally {
    await c.close();
  }
  return out;
}

function typedHeaders(i: number): Record<string, unknown> {
  return {
    seq: { '!': 'int32', value: i },
    big: { '!': 'int64', value: String(2n ** 60n + BigInt(i)) },
    ratio: { '!': 'float', value: 0.25 },
    precise: { '!': 'double', value: i + 0.5 },
    small: { '!': 'int8', value: -1 },
    when: { '!': 'timestamp', value: 1700000000 + i },
    price: { '!': 'decimal', value: { places: 2, digits: 1999 } },
    raw: Buffer.from([0, 1, 2, 255]),
    tags: ['a', { '!': 'int16', value: 7 }],
    nested: { deep: { '!': 'uint32', value: 4000000000 } },
    none: null,
    yes: true,
    text: `message ${i} ✓`,
  };
}

function fullProperties(i: number): Record<string, unknown> {
  return {
    headers: typedHeaders(i),
    contentType: 'application/octet-stream',
    contentEncoding: 'binary',
    deliveryMode: 2,
    priority: i % 5,
    correlationId: `corr-${i}`,
    replyTo: 'reply-queue',
    expiration: '86400000',
    messageId: `msg-${i}`,
    timestamp: 1700000000 + i,
    type: 'test.event',
    userId: 'guest',
    appId: 'mqbak-e2e',
  };
}

/**
 * What a stream queue keeps: RabbitMQ 3.10 streams drop array and table headers and close the
 * connection on a decimal one (measured), so those stay out here.
 */
function streamProperties(i: number): Record<string, unknown> {
  const p = fullProperties(i);
  const { price: _p, tags: _t, nested: _n, ...headers } = p.headers as Record<string, unknown>;
  return { ...p, headers };
}

function body(i: number): Buffer {
  return Buffer.from(Array.from({ length: 100 + i }, (_, j) => (i * 31 + j) % 256));
}

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

  // (a) killed between consuming and storing: segments stored, no checkpoint committed yet;
  // (b) killed just after a checkpoint's manifest appeared (before or after its ack went out)
  it.each([
    ['before the first checkpoint commits', (f: string[]) => f.some((x) => x.includes('/segments/')) && !f.some((x) => x.includes('/manifests/'))],
    ['right after a checkpoint commits', (f: string[]) => f.some((x) => x.includes('/manifests/'))],
  ] as const)('drain killed with SIGKILL %s, then run again: every message is archived or still queued, none lost', async (_when, killWhen) => {
    const { url, conn } = await newVhost('drain-kill');
    const store = await newStore();
    const q = 'work';
    await declare(conn, q);
    const n = 6000;
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.alloc(512, i % 256), { messageId: `w${i}`, persistent: true });
    await ch.waitForConfirms();
    await ch.close();

    const child = spawn(process.execPath, [MQBAK_BIN, 'backup', url, store, '--queues', q, '--mode', 'drain', '--checkpoint', '1500', '--segment-size', '64k'], {
      env: { ...process.env, ...env, CI: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (killWhen(await listFiles(store))) break;
      if (Date.now() > deadline) throw new Error(`drain never reached the kill point in 60 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    child.kill('SIGKILL');
    const killed = await exited;
    expect(killed.signal).toBe('SIGKILL');

    const left = (await queueDepth(conn, q)).messages;
    expect(left).toBeGreaterThan(0); // the kill did land before the end
    const committedBefore = (JSON.parse((await runMqbak(['list', store, '--json'], { env })).stdout) as unknown[]).length;

    const again = await runMqbak(['backup', url, store, '--queues', q, '--mode', 'drain', '--json'], { env });
    expect(again.stderr).not.toMatch(/error/);
    expect(again.code).toBe(0);
    const rerun = JSON.parse(again.stdout) as { streams: Array<{ mayDuplicatePrevious: boolean; redelivered: number }> };
    expect(rerun.streams[0]!.redelivered).toBeGreaterThan(0); // the killed run's deliveries came back
    // duplicates are possible only if the killed run had committed a checkpoint
    expect(rerun.streams[0]!.mayDuplicatePrevious).toBe(committedBefore > 0);
    expect((await queueDepth(conn, q)).messages).toBe(0);

    // every message id is in some committed backup
    const list = await runMqbak(['list', store, '--json'], { env });
    expect(list.code).toBe(0);
    const ids = (JSON.parse(list.stdout) as Array<{ id: string }>).map((b) => b.id);
    const seen = new Map<string, number>();
    for (const id of ids) {
      const cat = await runMqbak(['cat', store, id], { env, timeoutMs: 120_000 });
      expect(cat.code).toBe(0);
      for (const line of cat.stdout.split('\n').filter(Boolean)) {
        const rec = JSON.parse(line) as { amqp?: { properties?: { messageId?: string } } };
        const mid = rec.amqp?.properties?.messageId;
        if (mid) seen.set(mid, (seen.get(mid) ?? 0) + 1);
      }
    }
    const missing = Array.from({ length: n }, (_, i) => `w${i}`).filter((m) => !seen.has(m));
    expect(missing).toEqual([]);
    const twice = [...seen.values()].filter((c) => c > 1).length;
    if (committedBefore === 0) expect(twice).toBe(0); // nothing committed, nothing to duplicate
    if (twice > 0 || committedBefore > 0) {
      // show tells that a stream may hold duplicates
      const shows: string[] = [];
      for (const id of ids) shows.push((await runMqbak(['show', store, id], { env })).stdout);
      expect(shows.join('\n')).toMatch(/mayDuplicatePrevious=true/);
    }
  }, 180_000);

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
    const res = JSON.parse(r.stdout) as { restored: number; failed: number; streams: Array<{ source: string; target: string; restored: number }> };
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

    // a second restore finds the definitions in place and says so, changing nothing
    const again = await runMqbak(['restore', store, dst.url, '--definitions', '--map', 'orders=orders-restored', '--dry-run', '--json'], { env });
    expect(again.code).toBe(0);
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

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else if (!e.name.includes('.tmp')) out.push(path.join(d, e.name));
    }
  };
  await walk(dir);
  return out;
}
