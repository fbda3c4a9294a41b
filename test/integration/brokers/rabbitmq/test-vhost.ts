/**
 * A vhost of its own for the RabbitMQ integration tests, and the few things they do to its
 * queues: declare, publish with amqplib, take everything.
 */
import type { ConsumeMessage } from 'amqplib';
import { createVhost, deleteVhost, rabbitUrl, uniqueName } from '../../../helpers/brokers.js';
import { connectRabbit, type RabbitConnection } from '../../../../src/brokers/rabbitmq/connection.js';
import { QueueConsumer, queueDepth } from '../../../../src/brokers/rabbitmq/consumer.js';

export interface TestVhost {
  vhost: string;
  conn: RabbitConnection;
  declare(queue: string, args?: Record<string, unknown>): Promise<void>;
  publishRaw(queue: string, items: Array<{ body: Buffer; options: Record<string, unknown> }>): Promise<void>;
  /** Takes (and acks) every message of a queue. */
  takeAll(queue: string): Promise<ConsumeMessage[]>;
  close(): Promise<void>;
}

export async function testVhost(prefix: string): Promise<TestVhost> {
  const vhost = uniqueName(prefix);
  await createVhost(vhost);
  const conn = await connectRabbit(rabbitUrl(vhost));
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
  return {
    vhost,
    conn,
    declare,
    publishRaw,
    takeAll,
    async close() {
      await conn.close();
      await deleteVhost(vhost);
    },
  };
}

/** One header of every AMQP field type, as amqplib is told to send them. */
export const TYPED_HEADERS = {
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
