/**
 * Kafka archives in S3 through the mqbak binary (issue 6): a backup of a partitioned topic to
 * s3://, verified there and restored from there into another topic, record for record per
 * partition, on each test S3 server (s3rver, and the Ceph RADOS Gateway when the set-up runs
 * one); and an S3 server that dies in the middle of a Kafka backup (an s3rver of the test's
 * own): exit 5, no manifest, and a rerun once it is back gives a complete, verifiable backup.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createBucket, freePort, keysIn, startOwnS3rver, kafkaBrokers, kafkaCreateTopic, s3Credentials, s3Servers, uniqueName, type S3TestServer } from '../helpers/brokers.js';
import { MQBAK_BIN, runMqbak } from '../helpers/run-mqbak.js';

/** The credentials of the s3rver the S3-stopped test starts for itself (s3rver's own). */
const creds = s3Credentials();
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const credsEnv = (c = creds): NodeJS.ProcessEnv => ({ AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey });
const s3Options = (endpoint: string): string[] => ['--s3-endpoint', endpoint, '--s3-path-style', '--s3-checksum', 'when-required'];
const kafkaUrl = (): string => `kafka://${kafkaBrokers().join(',')}`;

function kafka(): Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('s3-e2e'), logLevel: logLevel.NOTHING });
}

interface Rec {
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/** Produces `n` records spread over the topic's partitions by key; returns them per partition in order. */
async function produce(topic: string, partitions: number, n: number, valueSize = 100): Promise<Map<number, Rec[]>> {
  const producer = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const byPartition = new Map<number, Rec[]>();
  try {
    const batch = 1000;
    for (let start = 0; start < n; start += batch) {
      const messages = [];
      for (let i = start; i < Math.min(n, start + batch); i++) {
        const partition = i % partitions;
        const rec: Rec = {
          key: i % 7 === 0 ? null : `k-${i % 13}`,
          value: `${i}:`.padEnd(valueSize, String.fromCharCode(97 + (i % 26))),
          headers: i % 3 === 0 ? { n: String(i), kind: 'third' } : {},
        };
        (byPartition.get(partition) ?? byPartition.set(partition, []).get(partition)!).push(rec);
        messages.push({ partition, key: rec.key, value: rec.value, headers: rec.headers });
      }
      await producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages });
    }
  } finally {
    await producer.disconnect();
  }
  return byPartition;
}

/** Reads every partition of `topic` from the beginning until `n` records came; per partition in order. */
async function consumeAll(topic: string, n: number): Promise<Map<number, Rec[]>> {
  const consumer = kafka().consumer({ groupId: uniqueName('s3-e2e-read'), sessionTimeout: 6000 });
  await consumer.connect();
  const byPartition = new Map<number, Rec[]>();
  let count = 0;
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${count} of ${n} records of ${topic} in 60 s`)), 60_000);
      void consumer
        .run({
          eachMessage: async ({ partition, message }) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
            (byPartition.get(partition) ?? byPartition.set(partition, []).get(partition)!).push({
              key: message.key === null ? null : message.key.toString(),
              value: message.value?.toString() ?? '',
              headers,
            });
            if (++count >= n) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return byPartition;
}

describe.each(s3Servers())('Kafka archives in S3 on $name through the mqbak binary', (server: S3TestServer) => {
  it('backs up a 3-partition topic to s3://, verifies it there and restores it from there record for record', async () => {
    const bucket = uniqueName('mqbak-kafka');
    await createBucket(bucket, server);
    const store = `s3://${bucket}/kafka/nightly`;
    const s3 = s3Options(server.endpoint);
    const topic = uniqueName('orders');
    await kafkaCreateTopic(topic, 3);
    const sent = await produce(topic, 3, 3000);

    const backup = await runMqbak(['backup', kafkaUrl(), store, '--topics', topic, '--json', '--segment-size', '64k', ...s3], { env: credsEnv(server.credentials) });
    expect(backup.stderr).not.toMatch(/\n\s+at /);
    expect(backup.code).toBe(0);
    const result = JSON.parse(backup.stdout) as { id: string; records: number };
    expect(result.records).toBe(3000);
    const keys = await keysIn(server.endpoint, bucket, 'kafka/nightly/', server.credentials);
    expect(keys).toContain(`kafka/nightly/manifests/${result.id}.json`);
    expect(keys.filter((k) => k.startsWith(`kafka/nightly/segments/${result.id}/`)).length).toBeGreaterThan(1);

    const verify = await runMqbak(['verify', store, '--json', ...s3], { env: credsEnv(server.credentials) });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, findings: [] });

    const target = uniqueName('orders-restored');
    await kafkaCreateTopic(target, 3);
    const restore = await runMqbak(['restore', store, kafkaUrl(), '--map', `${topic}=${target}`, '--json', ...s3], { env: credsEnv(server.credentials) });
    expect(restore.stderr).not.toMatch(/\n\s+at /);
    expect(restore.code).toBe(0);
    const got = await consumeAll(target, 3000);
    for (const p of [0, 1, 2]) expect(got.get(p)).toEqual(sent.get(p));
  }, 180_000);
});

describe('Kafka archives in S3 when the S3 server stops', () => {
  it('S3 stopped in the middle of a Kafka backup: exit 5, no manifest; rerun once it is up: complete and verifiable', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mqbak-s3rver-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    let server = await startOwnS3rver(dir, port);
    cleanups.push(async () => void server.kill('SIGKILL'));
    const bucket = uniqueName('mqbak-kcut');
    const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED' });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();

    const topic = uniqueName('events');
    await kafkaCreateTopic(topic, 2);
    const n = 40_000;
    await produce(topic, 2, n, 1000);
    const store = `s3://${bucket}/k`;
    // few retries, so that the dead server is given up on quickly
    const env = { ...credsEnv(), MQBAK_S3_MAX_ATTEMPTS: '2' };
    const args = ['backup', kafkaUrl(), store, '--topics', topic, '--segment-size', '64k', ...s3Options(endpoint)];

    const child = spawn(process.execPath, [MQBAK_BIN, ...args], { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // kill the server once a few segments are up, while the backup is still writing
    let segmentsBefore = 0;
    for (let i = 0; i < 600 && child.exitCode === null; i++) {
      segmentsBefore = (await keysIn(endpoint, bucket, 'k/segments/')).length;
      if (segmentsBefore >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    server.kill('SIGKILL');
    const code = await exited;
    expect(segmentsBefore).toBeGreaterThanOrEqual(3);
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(code).toBe(5);
    expect(stderr).toMatch(/mqbak: error: .*s3:\/\/mqbak-kcut-\S+\/k at 127\.0\.0\.1:\d+/);

    server = await startOwnS3rver(dir, port);
    const keys = await keysIn(endpoint, bucket, 'k/');
    expect(keys.filter((k) => k.startsWith('k/manifests/'))).toEqual([]);

    const again = await runMqbak([...args, '--json'], { env });
    expect(again.stderr).not.toMatch(/\n\s+at /);
    // with its stderr, so that a failure says which object the rerun refused
    expect({ code: again.code, stderr: again.stderr }).toMatchObject({ code: 0 });
    const result = JSON.parse(again.stdout) as { id: string; records: number };
    expect(result.records).toBe(n);
    const verify = await runMqbak(['verify', store, '--json', ...s3Options(endpoint)], { env });
    expect(verify.code).toBe(0);
    expect((JSON.parse(verify.stdout) as { ok: boolean }).ok).toBe(true);
    const list = await runMqbak(['list', store, '--json', ...s3Options(endpoint)], { env });
    expect((JSON.parse(list.stdout) as Array<{ id: string; records: number }>).map((b) => [b.id, b.records])).toEqual([[result.id, n]]);
  }, 240_000);
});
