/**
 * A silence ends a mirror or drain only when the queue has nothing ready for it: a queue whose
 * messages are ready but not delivered (here: a single-active-consumer queue served by another
 * consumer, the same silence a starved broker gives) is waited for, up to the stall limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../helpers/brokers.js';
import { QueueConsumer } from '../../../../src/brokers/rabbitmq/consumer.js';
import { nextDelivery, type Silence } from '../../../../src/brokers/rabbitmq/idle-wait.js';
import { backupSettings } from '../../../../src/brokers/rabbitmq/options.js';
import type { ReadContext } from '../../../../src/brokers/rabbitmq/read-context.js';
import { silentProgress } from '../../../../src/common/progress.js';
import { rabbitUrl } from '../../../helpers/brokers.js';
import { testVhost, type TestVhost } from './test-vhost.js';

let t: TestVhost;

beforeAll(async () => {
  t = await testVhost('rmq-idle');
});

afterAll(async () => {
  await t?.close();
});

function contextOf(idleMs: number, stallMs: number): ReadContext {
  const settings = { ...backupSettings(rabbitUrl('/'), { queues: ['x'] }, {}), idleMs, stallMs };
  return { conn: t.conn, settings, progress: silentProgress, signal: new AbortController().signal, notes: { invalidUtf8: [] }, returns: [] } as unknown as ReadContext;
}

/** A queue with a single active consumer, served by another consumer that holds one delivery and never acks. */
async function servedElsewhere(n: number) {
  const q = uniqueName('sac');
  await t.declare(q, { 'x-single-active-consumer': true });
  await t.publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${i}`), options: {} })));
  const other = await t.conn.model.createChannel();
  await other.prefetch(1);
  await other.consume(q, () => {}, { noAck: false });
  return { q, stop: () => other.close() };
}

async function readAll(ctx: ReadContext, c: QueueConsumer, q: string, silences: Array<[Silence, boolean]>): Promise<string[]> {
  const seen: string[] = [];
  for (;;) {
    const m = await nextDelivery(ctx, c, q, Date.now() + 60_000, (s, ending) => silences.push([s, ending]));
    if (!m) return seen;
    seen.push(m.content.toString());
  }
}

describe('nextDelivery', () => {
  it('waits through silences while the queue reports ready messages, and reads them all once they come', async () => {
    const n = 20;
    const { q, stop } = await servedElsewhere(n);
    const c = await QueueConsumer.open(t.conn, q, { prefetch: n });
    // the other consumer lets go after 1.5 s: its held delivery goes back, and mqbak's becomes the active one
    const timer = setTimeout(() => void stop(), 1500);
    const silences: Array<[Silence, boolean]> = [];
    try {
      const seen = await readAll(contextOf(300, 20_000), c, q, silences);
      expect(seen.sort()).toEqual(Array.from({ length: n }, (_, i) => `m${i}`).sort());
    } finally {
      clearTimeout(timer);
      await c.close();
    }
    // at least one silence with messages ready was waited out, none ended the read
    expect(silences.length).toBeGreaterThan(0);
    expect(silences.every(([s, ending]) => !ending && s.ready > 0)).toBe(true);
  });

  it('ends after the stall limit when ready messages never come, and says how many are left', async () => {
    const { q, stop } = await servedElsewhere(10);
    const c = await QueueConsumer.open(t.conn, q, { prefetch: 10 });
    const silences: Array<[Silence, boolean]> = [];
    const started = Date.now();
    try {
      expect(await readAll(contextOf(300, 1500), c, q, silences)).toEqual([]);
    } finally {
      await c.close();
      await stop();
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const last = silences.at(-1);
    expect(last?.[1]).toBe(true);
    expect(last?.[0].ready).toBe(9);
    expect(last?.[0].silentMs).toBeGreaterThanOrEqual(1500);
  });

  it('ends after one silence when the queue has nothing ready', async () => {
    const q = uniqueName('empty');
    await t.declare(q);
    await t.publishRaw(q, [{ body: Buffer.from('only'), options: {} }]);
    const c = await QueueConsumer.open(t.conn, q, { prefetch: 10 });
    const silences: Array<[Silence, boolean]> = [];
    try {
      expect(await readAll(contextOf(300, 60_000), c, q, silences)).toEqual(['only']);
    } finally {
      await c.close();
    }
    expect(silences).toEqual([]);
  });
});
