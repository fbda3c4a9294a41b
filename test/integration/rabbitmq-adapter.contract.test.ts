/**
 * The broker adapter contract suites (test/contract/broker-contract.ts) run against the RabbitMQ
 * adapter and the real broker: a classic queue mirrored ('snapshot') and drained ('drain'), a
 * stream queue read by offset ('log'); the sink restores into a new stream queue that
 * --definitions recreates from the saved definitions, so its offsets come back as runs.
 */
import type { ConsumeMessage } from 'amqplib';
import { brokerContract, valueOf, type BrokerFixture } from '../contract/broker-contract.js';
import { createVhost, deleteVhost, rabbitManagementUrl, rabbitUrl, uniqueName } from '../helpers/brokers.js';
import type { ReadMode, StreamAddress } from '../../src/brokers/adapter.js';
import { adapter } from '../../src/brokers/rabbitmq/index.js';
import { connectRabbit, type RabbitConnection } from '../../src/brokers/rabbitmq/connection.js';
import { QueueConsumer } from '../../src/brokers/rabbitmq/consumer.js';

async function publish(conn: RabbitConnection, queue: string, from: number, count: number): Promise<void> {
  const ch = await conn.model.createConfirmChannel();
  for (let i = from; i < from + count; i++) ch.sendToQueue(queue, Buffer.from(valueOf(i)), { messageId: `m${i}` });
  await ch.waitForConfirms();
  await ch.close();
}

/** Every message of a queue, in order; a stream queue is read from its first offset, a classic one emptied. */
async function readBack(conn: RabbitConnection, queue: string, stream: boolean): Promise<Array<{ key: null; value: Uint8Array }>> {
  const c = await QueueConsumer.open(conn, queue, { prefetch: 500, arguments: stream ? { 'x-stream-offset': 'first' } : undefined });
  const got: ConsumeMessage[] = [];
  try {
    for (;;) {
      const m = await c.next(1500);
      if (!m) break;
      got.push(m);
      c.ack(m.fields.deliveryTag, false);
    }
  } finally {
    await c.close();
  }
  return got.map((m) => ({ key: null, value: new Uint8Array(m.content) }));
}

brokerContract('rabbitmq', async (): Promise<BrokerFixture> => {
  const vhost = uniqueName('rmq-contract');
  await createVhost(vhost);
  const url = rabbitUrl(vhost);
  const conn = await connectRabbit(url);
  const base = { managementUrl: rabbitManagementUrl(), idleMs: 1500 };
  return {
    adapter,
    modes: ['snapshot', 'log', 'drain'],
    async source(mode: ReadMode, records: number) {
      const queue = uniqueName(`contract-${mode}`);
      const ch = await conn.model.createChannel();
      await ch.assertQueue(queue, { durable: true, arguments: mode === 'log' ? { 'x-queue-type': 'stream' } : {} });
      await ch.close();
      await publish(conn, queue, 0, records);
      let next = records;
      return {
        url,
        options: { ...base, queues: [queue], mode: mode === 'drain' ? 'drain' : 'mirror' },
        streams: 1,
        async append(n: number) {
          await publish(conn, queue, next, n);
          next += n;
        },
      };
    },
    async sink() {
      return {
        url,
        options: { ...base, definitions: true },
        name: uniqueName('contract-restored'),
        readBack: (address: StreamAddress) => readBack(conn, String(address.queue), address.queueType === 'stream'),
      };
    },
    sinkHasPositions: true,
    async cleanup() {
      await conn.close();
      await deleteVhost(vhost);
    },
  };
});
