/**
 * The RabbitMQ stream writer refuses records whose attributes are not AMQP meta (the archive
 * checks only that they are JSON): 'integrity', and nothing of them is published.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rabbitManagementUrl, rabbitUrl, uniqueName } from '../../../helpers/brokers.js';
import { silentProgress } from '../../../../src/common/progress.js';
import { columnsOf, type ArchiveRecord, type JsonValue } from '../../../../src/common/record.js';
import type { BrokerSink, PlannedTarget } from '../../../../src/brokers/adapter.js';
import { adapter } from '../../../../src/brokers/rabbitmq/index.js';
import { testVhost, type TestVhost } from './test-vhost.js';

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

async function withWriter(queue: string, use: (sink: BrokerSink, target: PlannedTarget) => Promise<void>): Promise<void> {
  const url = rabbitUrl(t.vhost);
  const options = { managementUrl: rabbitManagementUrl() };
  const sink = await adapter.openSink(url, options, { signal: new AbortController().signal, progress: silentProgress, debug: false, env: {}, zstd: async () => (b) => b });
  const address = { vhost: t.vhost, queue, queueType: 'classic' };
  const target: PlannedTarget = { name: `rabbitmq/x/${queue}`, source: address, target: address, records: 2, from: 0n, to: 2n };
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
});
