/**
 * Helpers of the RabbitMQ end-to-end tests (test/e2e/rabbitmq*.test.ts): fresh vhosts and stores,
 * the management API, declaring and reading queues, and message properties of every AMQP type.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect } from 'vitest';
import type { ConsumeMessage } from 'amqplib';
import { createVhost, deleteVhost, rabbitManagementUrl, rabbitUrl, uniqueName } from './brokers.js';
import { connectRabbit, QueueConsumer, queueDepth, rawPropertiesOf, type RabbitConnection } from '../../src/brokers/rabbitmq/index.js';

/** newVhost and newStore for one test file; what they made is removed after it. */
export function useRabbitE2e(): { newVhost: (prefix: string) => Promise<{ vhost: string; url: string; conn: RabbitConnection }>; newStore: () => Promise<string> } {
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
  return { newVhost, newStore };
}

export const env = { MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl() };

export async function management(pathname: string): Promise<unknown> {
  const res = await fetch(`${rabbitManagementUrl()}${pathname}`, {
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
  });
  expect(res.status).toBe(200);
  return res.json();
}

export async function declare(conn: RabbitConnection, queue: string, args: Record<string, unknown> = {}): Promise<void> {
  const ch = await conn.model.createChannel();
  await ch.assertQueue(queue, { durable: true, arguments: args });
  await ch.close();
}

/** Reads every message of a queue; acks them (removing them) only when `remove`. */
export async function readQueue(conn: RabbitConnection, queue: string, remove: boolean): Promise<ConsumeMessage[]> {
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
export async function readStreamQueue(conn: RabbitConnection, queue: string): Promise<Array<{ body: string; props: Buffer }>> {
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

export function typedHeaders(i: number): Record<string, unknown> {
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

export function fullProperties(i: number): Record<string, unknown> {
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
export function streamProperties(i: number): Record<string, unknown> {
  const p = fullProperties(i);
  const { price: _p, tags: _t, nested: _n, ...headers } = p.headers as Record<string, unknown>;
  return { ...p, headers };
}

export function body(i: number): Buffer {
  return Buffer.from(Array.from({ length: 100 + i }, (_, j) => (i * 31 + j) % 256));
}

/** The name prefix of the local store's files being written (src/stores/local.ts). */
export const LOCAL_STORE_TMP_PREFIX = '.mqbak-tmp-';

/**
 * Every file under dir, as paths, leaving out the local store's temporary files (named
 * `.mqbak-tmp-*` until they are renamed into place): a file listed here is committed.
 */
export async function listFiles(dir: string): Promise<string[]> {
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
      else if (!e.name.startsWith(LOCAL_STORE_TMP_PREFIX)) out.push(path.join(d, e.name));
    }
  };
  await walk(dir);
  return out;
}
