/**
 * Proves the Kafka test broker as the harness uses it, not mqbak: kafkaCreateTopic
 * (test/helpers/brokers.ts) makes exactly the partitions asked for and refuses a duplicate, and a
 * record with binary key, value and header comes back byte for byte through stock kafkajs.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../../helpers/brokers.js';

/** Every byte value, then random bytes: a body that text handling anywhere would corrupt. */
function binaryPayload(): Buffer {
  return Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
}

describe('Kafka test broker: the harness', () => {
  it('Kafka: a topic gets the partition count asked for, and a record round-trips', async () => {
    const { default: kafkajs } = await import('kafkajs');
    const topic = uniqueName('harness-topic');
    await kafkaCreateTopic(topic, 3);
    const kafka = new kafkajs.Kafka({
      brokers: kafkaBrokers(),
      clientId: 'mqbak-harness',
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]?.partitions.map((p) => p.partitionId).sort()).toEqual([0, 1, 2]);
    } finally {
      await admin.disconnect();
    }

    const value = binaryPayload();
    const key = randomBytes(16);
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic,
        acks: -1,
        messages: [{ partition: 2, key, value, headers: { h: Buffer.from([0, 255, 1]) }, timestamp: '1700000000123' }],
      });
    } finally {
      await producer.disconnect();
    }

    const consumer = kafka.consumer({ groupId: uniqueName('harness-group'), sessionTimeout: 6_000 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      const got = await new Promise<{ partition: number; offset: string; key: Buffer | null; value: Buffer | null; header: unknown; ts: string }>(
        (resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no record consumed in 30 s')), 30_000);
          void consumer
            .run({
              eachMessage: async ({ partition, message }) => {
                clearTimeout(timer);
                resolve({
                  partition,
                  offset: message.offset,
                  key: message.key,
                  value: message.value,
                  header: message.headers?.h,
                  ts: message.timestamp,
                });
              },
            })
            .catch(reject);
        },
      );
      expect(got.partition).toBe(2);
      expect(got.offset).toBe('0');
      expect(got.key && Buffer.compare(got.key, key)).toBe(0);
      expect(got.value && Buffer.compare(got.value, value)).toBe(0);
      expect(Buffer.isBuffer(got.header) && Buffer.compare(got.header, Buffer.from([0, 255, 1]))).toBe(0);
      expect(got.ts).toBe('1700000000123');
    } finally {
      await consumer.disconnect();
    }
  });

  it('Kafka: creating a topic that exists fails instead of passing silently', async () => {
    const topic = uniqueName('harness-topic');
    await kafkaCreateTopic(topic, 1);
    await expect(kafkaCreateTopic(topic, 1)).rejects.toThrow();
  });
});
