/**
 * Proves the test harness, not mqbak: the servers the globalSetup provides are real, reachable
 * with the stock client libraries, and give back exactly the bytes put in. (The Kafka test
 * broker's own tests are beside it, in test/brokers/kafka-mock/.)
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import {
  createBucket,
  createVhost,
  deleteVhost,
  rabbitUrl,
  s3Credentials,
  s3Endpoint,
  uniqueName,
} from '../helpers/brokers.js';

/** Every byte value, then random bytes: a body that text handling anywhere would corrupt. */
function binaryPayload(): Buffer {
  return Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, i) => i)), randomBytes(4096)]);
}

describe('test harness', () => {
  const vhosts: string[] = [];
  afterAll(async () => {
    for (const v of vhosts) await deleteVhost(v);
  });

  it('uniqueName gives distinct names valid for topics, queues, vhosts and buckets', () => {
    const names = Array.from({ length: 200 }, () => uniqueName('Harness_Test.Name'));
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) {
      expect(n).toMatch(/^harness-test-name-[a-z0-9-]+[a-z0-9]$/);
      expect(n.length).toBeLessThanOrEqual(63);
    }
    expect(uniqueName('x'.repeat(100)).length).toBeLessThanOrEqual(63);
  });

  it('RabbitMQ: a message published to a queue in a fresh vhost comes back byte for byte', async () => {
    const { default: amqp } = await import('amqplib');
    const vhost = uniqueName('harness-vhost');
    await createVhost(vhost);
    vhosts.push(vhost);
    const body = binaryPayload();
    const conn = await amqp.connect(rabbitUrl(vhost), { noDelay: true });
    try {
      const ch = await conn.createConfirmChannel();
      const queue = uniqueName('harness-queue');
      await ch.assertQueue(queue, { durable: true });
      ch.sendToQueue(queue, body, { persistent: true, headers: { 'x-harness': 'yes' }, messageId: 'm1' });
      await ch.waitForConfirms();
      const msg = await ch.get(queue, { noAck: false });
      expect(msg).not.toBe(false);
      if (msg === false) return;
      expect(Buffer.compare(msg.content, body)).toBe(0);
      expect(msg.properties.headers?.['x-harness']).toBe('yes');
      expect(msg.properties.messageId).toBe('m1');
      ch.ack(msg);
      expect((await ch.checkQueue(queue)).messageCount).toBe(0);
      await ch.deleteQueue(queue);
      await ch.close();
    } finally {
      await conn.close();
    }
  });

  it('RabbitMQ: the vhost is really a separate one (the default vhost does not see the queue)', async () => {
    const { default: amqp } = await import('amqplib');
    const vhost = uniqueName('harness-vhost');
    await createVhost(vhost);
    vhosts.push(vhost);
    const queue = uniqueName('harness-queue');
    const inVhost = await amqp.connect(rabbitUrl(vhost), { noDelay: true });
    const inDefault = await amqp.connect(rabbitUrl(), { noDelay: true });
    try {
      await (await inVhost.createChannel()).assertQueue(queue, { autoDelete: false });
      const ch = await inDefault.createChannel();
      ch.on('error', () => undefined);
      await expect(ch.checkQueue(queue)).rejects.toThrow(/NOT_FOUND/);
    } finally {
      await inVhost.close();
      await inDefault.close();
    }
  });

  it('S3: an object put into a fresh bucket comes back byte for byte', async () => {
    const { S3Client, PutObjectCommand, GetObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
    const bucket = uniqueName('harness-bucket');
    await createBucket(bucket);
    const client = new S3Client({
      endpoint: s3Endpoint(),
      region: 'us-east-1',
      credentials: s3Credentials(),
      forcePathStyle: true,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      const body = binaryPayload();
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'dir/object.bin', Body: body }));
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'dir/object.bin' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(bytes.length).toBe(body.length);
      expect(Buffer.compare(bytes, body)).toBe(0);
      const list = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      expect(list.Contents?.map((o) => [o.Key, o.Size])).toEqual([['dir/object.bin', body.length]]);
    } finally {
      client.destroy();
    }
  });
});
