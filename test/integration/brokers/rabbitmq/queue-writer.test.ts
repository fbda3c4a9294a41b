/**
 * The RabbitMQ stream writer refuses records whose attributes are not AMQP meta (the archive
 * checks only that they are JSON): 'integrity', and nothing of them is published. Messages whose
 * content header is written from the attributes' bytes (attributes-header.ts) and those that take
 * the general path arrive with the same property bytes and bodies, in order; a message no queue
 * took is a failure on both.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rabbitManagementUrl, rabbitUrl, uniqueName } from '../../../helpers/brokers.js';
import { silentProgress } from '../../../../src/common/progress.js';
import { columnsOf, type ArchiveRecord, type JsonValue } from '../../../../src/common/record.js';
import type { BrokerSink, PlannedTarget } from '../../../../src/brokers/adapter.js';
import { adapter } from '../../../../src/brokers/rabbitmq/index.js';
import { rawPropertiesOf } from '../../../../src/brokers/rabbitmq/connection.js';
import { toArchiveRecord } from '../../../../src/brokers/rabbitmq/delivery.js';
import { republishedProperties } from '../../../../src/brokers/rabbitmq/attributes-header.js';
import { testVhost, TYPED_HEADERS, type TestVhost } from './test-vhost.js';

let t: TestVhost;
beforeAll(async () => {
  t = await testVhost('rmq-writer');
});
afterAll(async () => {
  await t?.close();
});

function record(position: number, attributes: JsonValue | null): ArchiveRecord {
  return { position: BigInt(position), timestamp: null, timestampType: null, key: null, value: new TextEncoder().encode(`m${position}`), headers: [], attributes };
}

async function withWriter(queue: string, use: (sink: BrokerSink, target: PlannedTarget) => Promise<void>, records = 2): Promise<void> {
  const url = rabbitUrl(t.vhost);
  const options = { managementUrl: rabbitManagementUrl() };
  const sink = await adapter.openSink(url, options, { signal: new AbortController().signal, progress: silentProgress, debug: false, env: {}, zstd: async () => (b) => b });
  const address = { vhost: t.vhost, queue, queueType: 'classic' };
  const target: PlannedTarget = { name: `rabbitmq/x/${queue}`, source: address, target: address, records, from: 0n, to: BigInt(records) };
  try {
    await sink.prepare({ backupId: 'b', metadata: {}, renames: {}, targets: [target] }, null, new AbortController().signal);
    await use(sink, target);
  } finally {
    await sink.close();
  }
}

describe('RabbitMQ queue writer', () => {
  it('a record without AMQP attributes, or with attributes that are not AMQP meta, is an integrity failure and is not published', async () => {
    const meta = { exchange: '', routingKey: 'q', redelivered: false, properties: {} };
    for (const bad of [null, { exchange: 'x' }]) {
      const queue = uniqueName('writer');
      await t.declare(queue);
      await withWriter(queue, async (sink, target) => {
        const w = await sink.openStream(target, null, new AbortController().signal);
        const slice = { cols: columnsOf([record(0, meta), record(1, bad)]), from: 0, to: 2 };
        await expect(w.write([slice], new AbortController().signal)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/^record 1/) });
      });
      // the bad one never went out (the good one before it may have: the write failed before its confirm)
      expect((await t.takeAll(queue)).map((m) => m.content.toString()).filter((b) => b !== 'm0')).toEqual([]);
    }
  });

  it('republishes common and uncommon messages with the same property bytes and bodies, in order, including bodies over frame-max', async () => {
    const src = uniqueName('writer-src');
    const dst = uniqueName('writer-dst');
    await t.declare(src);
    await t.declare(dst);
    const common = { contentType: 'application/json', deliveryMode: 2, messageId: 'id', timestamp: 1_764_000_000, headers: { 'event-type': 'order.paid', n: { '!': 'int32', value: 7 } } };
    const sizes = [0, 1, 1000, 131_064, 300_000];
    const items = Array.from({ length: 40 }, (_, i) => ({
      body: Buffer.alloc(sizes[i % sizes.length]!, i),
      // every fourth has floats and a nested table, which take the general path; one a broker-owned header
      options: i % 4 === 3 ? { ...common, headers: TYPED_HEADERS } : i === 10 ? { ...common, headers: { 'x-death': [] } } : i === 5 ? { userId: 'guest' } : { ...common, messageId: `m${i}` },
    }));
    await t.publishRaw(src, items);
    const original = await t.takeAll(src);
    expect(original).toHaveLength(40);
    const records = original.map((m, i) => toArchiveRecord(m, BigInt(i), { invalidUtf8: [] }));
    const cols = columnsOf(records);
    // both ways are taken
    const fast = records.map((_, i) => republishedProperties(cols.bytes, cols.attributeStart[i]!, cols.attributeStart[i]! + cols.attributeLength[i]!, { user: Buffer.from('guest'), viaExchange: false }) !== null);
    expect(fast.filter(Boolean)).toHaveLength(29);
    await withWriter(
      dst,
      async (sink, target) => {
        const w = await sink.openStream(target, null, new AbortController().signal);
        // in two writes, so that the second starts while the first's confirms are coming
        const a = w.write([{ cols, from: 0, to: 25 }], new AbortController().signal);
        const b = w.write([{ cols, from: 25, to: 40 }], new AbortController().signal);
        expect(await a).toEqual({ written: 25, failed: [] });
        expect(await b).toEqual({ written: 15, failed: [] });
        await w.close();
      },
      40,
    );
    const copy = await t.takeAll(dst);
    expect(copy).toHaveLength(40);
    for (let i = 0; i < 40; i++) {
      expect(copy[i]!.content.equals(original[i]!.content), `body ${i}`).toBe(true);
      const props = rawPropertiesOf(copy[i]!);
      if (i === 10) expect(props.includes('x-mqbak-original-death')).toBe(true);
      else expect(props.toString('hex'), `properties ${i}`).toBe(rawPropertiesOf(original[i]!).toString('hex'));
    }
  });

  it('a message no queue took (the target deleted meanwhile) is returned and counted as failed, never as written', async () => {
    const queue = uniqueName('writer-gone');
    await t.declare(queue);
    const meta = { exchange: '', routingKey: 'q', redelivered: false, properties: { deliveryMode: 2, headers: [{ name: 'a', value: { type: 'string', value: 'b' } }] } };
    const cols = columnsOf([record(0, meta), record(1, meta)]);
    expect(republishedProperties(cols.bytes, cols.attributeStart[0]!, cols.attributeStart[0]! + cols.attributeLength[0]!, { user: Buffer.from('guest'), viaExchange: false })).not.toBeNull();
    await withWriter(queue, async (sink, target) => {
      const w = await sink.openStream(target, null, new AbortController().signal);
      const ch = await t.conn.model.createChannel();
      await ch.deleteQueue(queue);
      await ch.close();
      const ack = await w.write([{ cols, from: 0, to: 2 }], new AbortController().signal);
      expect(ack.written).toBe(0);
      expect(ack.failed).toEqual([0n, 1n].map((position) => ({ position, reason: expect.stringMatching(/returned by the broker: 312 NO_ROUTE/) })));
      await w.close();
    });
  });
});
