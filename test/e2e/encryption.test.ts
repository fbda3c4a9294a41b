/**
 * Encryption at rest through the mqbak binary (issue 16): encrypted round trips (backup, verify,
 * restore) for Kafka and RabbitMQ on a local store and on S3 (s3rver); a marker placed in topic
 * and queue names, keys, bodies and header values appears in no stored object; a wrong password
 * is exit 2 and writes nothing; changed ciphertext in a segment or a manifest is verify exit 4
 * naming the object; key add then key remove of the first: the old password fails, the new one
 * opens the store, and no segment changed.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ConsumeMessage } from 'amqplib';
import { createBucket, createVhost, deleteVhost, kafkaCreateTopic, keysIn, rabbitManagementUrl, rabbitUrl, s3Credentials, s3Endpoint, uniqueName } from '../helpers/brokers.js';
import { kafka, readAll, strip, url as kafkaUrl } from '../helpers/kafka-e2e.js';
import { runMqbak, type RunResult } from '../helpers/run-mqbak.js';
import { connectRabbit, QueueConsumer, queueDepth, type RabbitConnection } from '../../src/brokers/rabbitmq/index.js';

const MARKER = 'zqmarkerzq';
const dirs: string[] = [];
const vhosts: string[] = [];
const conns: RabbitConnection[] = [];
afterAll(async () => {
  for (const c of conns) await c.close().catch(() => {});
  for (const v of vhosts) await deleteVhost(v).catch(() => {});
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mqbak-enc-e2e-'));
  dirs.push(d);
  return d;
}

const creds = s3Credentials();
const s3 = (): string[] => ['--s3-endpoint', s3Endpoint(), '--s3-path-style', '--s3-checksum', 'when-required'];

/** A password file and the environment that names it (plus what S3 and restores need). */
async function passwordEnv(dir: string, password: string): Promise<NodeJS.ProcessEnv> {
  const file = path.join(dir, `pw-${createHash('sha256').update(password).digest('hex').slice(0, 8)}`);
  await writeFile(file, `${password}\n`);
  return {
    MQBAK_PASSWORD_FILE: file,
    XDG_STATE_HOME: dir,
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl(),
  };
}

async function keyInit(store: string, dir: string, password: string, extra: string[] = []): Promise<void> {
  const file = path.join(dir, 'new-pw');
  await writeFile(file, `${password}\n`);
  const r = await runMqbak(['key', 'init', store, '--new-password-file', file, '--scrypt-n', '1024', ...extra], { env: await passwordEnv(dir, password) });
  expect(r.code, r.stderr).toBe(0);
}

function ok(r: RunResult): RunResult {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

async function localObjects(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.set(path.relative(root, p), await readFile(p));
    }
  };
  await walk(root);
  return out;
}

async function s3Objects(bucket: string, prefix: string): Promise<Map<string, Buffer>> {
  const c = new S3Client({ endpoint: s3Endpoint(), region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  const out = new Map<string, Buffer>();
  try {
    for (const key of await keysIn(s3Endpoint(), bucket, prefix)) {
      const o = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      out.set(key, Buffer.from(await o.Body!.transformToByteArray()));
    }
  } finally {
    c.destroy();
  }
  return out;
}

/** No object holds the marker, in any of the encodings a name or a value could take there. */
function expectNoMarker(objects: Map<string, Buffer>): void {
  expect([...objects.keys()].some((k) => k.includes('segments/'))).toBe(true);
  expect([...objects.keys()].some((k) => k.includes('manifests/'))).toBe(true);
  const forms = [Buffer.from(MARKER), Buffer.from(MARKER, 'utf16le'), Buffer.from(Buffer.from(MARKER).toString('base64').slice(0, 12))];
  for (const [key, bytes] of objects) for (const f of forms) expect(bytes.includes(f), `${MARKER} (${f.toString('hex')}) in ${key}`).toBe(false);
}

async function produceMarked(topic: string, n: number): Promise<void> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const messages = Array.from({ length: n }, (_, i) => ({
    partition: i % 2,
    key: `${MARKER}-key-${i}`,
    value: `${MARKER} value ${i} `.repeat(1 + (i % 5)),
    headers: { h: `${MARKER}-header-${i}` },
    timestamp: String(1_700_000_000_000 + i),
  }));
  await p.send({ topic, acks: -1, messages });
  await p.disconnect();
}

/** Kafka: encrypted backup, verify, restore into another topic; the restored records equal the source's. */
async function kafkaRoundTrip(store: string, env: NodeJS.ProcessEnv, opts: string[]): Promise<{ id: string; topic: string }> {
  const topic = uniqueName(`${MARKER}-orders`);
  await kafkaCreateTopic(topic, 2);
  await produceMarked(topic, 300);
  const b = ok(await runMqbak(['backup', kafkaUrl(), store, '--topics', topic, '--segment-size', '8k', '--json', ...opts], { env }));
  const { id, records } = JSON.parse(b.stdout) as { id: string; records: number };
  expect(records).toBe(300);
  const v = ok(await runMqbak(['verify', store, '--json', ...opts], { env }));
  expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [] });
  const target = uniqueName('restored');
  await kafkaCreateTopic(target, 2);
  ok(await runMqbak(['restore', store, kafkaUrl(), '--map', `${topic}=${target}`, ...opts], { env }));
  expect(strip(await readAll(target))).toEqual(strip(await readAll(topic)));
  return { id, topic };
}

async function rabbitRoundTrip(store: string, env: NodeJS.ProcessEnv, opts: string[]): Promise<void> {
  const vhost = uniqueName(`${MARKER}-vh`);
  await createVhost(vhost);
  vhosts.push(vhost);
  const conn = await connectRabbit(rabbitUrl(vhost));
  conns.push(conn);
  const queue = `${MARKER}-jobs`;
  const ch = await conn.model.createChannel();
  await ch.assertQueue(queue, { durable: true });
  for (let i = 0; i < 120; i++) ch.sendToQueue(queue, Buffer.from(`${MARKER} body ${i}`), { messageId: `${MARKER}-m${i}`, headers: { h: `${MARKER}-${i}` }, persistent: true });
  await ch.close();
  const b = ok(await runMqbak(['backup', rabbitUrl(vhost), store, '--queues', queue, '--json', ...opts], { env }));
  expect(JSON.parse(b.stdout)).toMatchObject({ records: 120 });
  const v = ok(await runMqbak(['verify', store, '--json', ...opts], { env }));
  expect(JSON.parse(v.stdout)).toMatchObject({ ok: true, findings: [] });
  const restored = `${queue}-copy`;
  ok(await runMqbak(['restore', store, rabbitUrl(vhost), '--definitions', '--map', `${queue}=${restored}`, ...opts], { env }));
  const read = async (q: string): Promise<ConsumeMessage[]> => {
    const { messages } = await queueDepth(conn, q);
    const c = await QueueConsumer.open(conn, q, { prefetch: Math.max(1, messages) });
    const out: ConsumeMessage[] = [];
    try {
      while (out.length < messages) {
        const m = await c.next(5000);
        if (!m) break;
        out.push(m);
      }
    } finally {
      await c.close();
    }
    return out;
  };
  const src = await read(queue);
  const copy = await read(restored);
  expect(copy.map((m) => m.content.toString())).toEqual(src.map((m) => m.content.toString()));
  expect(copy.map((m) => String(m.properties.headers?.h))).toEqual(src.map((m) => String(m.properties.headers?.h)));
  expect(copy).toHaveLength(120);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('encrypted stores through the binary', () => {
  it('Kafka, local store: round trip, no marker stored, wrong password, tampering, key rotation', async () => {
    const dir = await tempDir();
    const store = path.join(dir, 'store');
    await keyInit(store, dir, 'first secret');
    const env = await passwordEnv(dir, 'first secret');
    const { topic } = await kafkaRoundTrip(store, env, []);
    const objects = await localObjects(store);
    expectNoMarker(objects);

    // wrong password: exit 2, one line, and nothing written
    const wrong = await runMqbak(['backup', kafkaUrl(), store, '--topics', topic], { env: await passwordEnv(dir, 'not it') });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr.trimEnd().split('\n')).toEqual(['mqbak: error: wrong password for this store']);
    const none = await runMqbak(['backup', kafkaUrl(), store, '--topics', topic], { env: { ...env, MQBAK_PASSWORD_FILE: '' } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no password was given');
    const after = await localObjects(store);
    expect([...after.keys()].sort()).toEqual([...objects.keys()].sort());

    // changed ciphertext in a segment, then in a manifest: verify exit 4 naming the object
    const seg = [...objects.keys()].find((k) => k.startsWith('segments/'))!;
    const man = [...objects.keys()].find((k) => k.startsWith('manifests/'))!;
    for (const key of [seg, man]) {
      const copy = path.join(dir, `tampered-${key.startsWith('seg') ? 'seg' : 'man'}`);
      await cp(store, copy, { recursive: true });
      const b = Buffer.from(objects.get(key)!);
      b[b.length - 20]! ^= 0x04;
      await writeFile(path.join(copy, key), b);
      const v = await runMqbak(['verify', copy], { env });
      expect(v.code).toBe(4);
      expect(v.stdout).toContain(key);
      expect(v.stdout).toContain('failed authentication');
    }

    // key add, then remove the first: the old password fails, the new one opens, no segment changed
    const segShas = new Map([...objects].filter(([k]) => k.startsWith('segments/')).map(([k, b]) => [k, sha(b)]));
    const first = (JSON.parse(ok(await runMqbak(['key', 'list', store, '--json'])).stdout) as { keys: Array<{ id: string }> }).keys[0]!.id;
    const newFile = path.join(dir, 'second');
    await writeFile(newFile, 'second secret\n');
    ok(await runMqbak(['key', 'add', store, '--new-password-file', newFile, '--scrypt-n', '1024'], { env }));
    const env2 = await passwordEnv(dir, 'second secret');
    ok(await runMqbak(['key', 'remove', store, first], { env: env2 }));
    const old = await runMqbak(['verify', store], { env });
    expect(old.code).toBe(2);
    expect(old.stderr).toContain('wrong password');
    ok(await runMqbak(['verify', store], { env: env2 }));
    const now = await localObjects(store);
    expect(new Map([...now].filter(([k]) => k.startsWith('segments/')).map(([k, b]) => [k, sha(b)]))).toEqual(segShas);
  }, 300_000);

  it('Kafka, S3 store: round trip, no marker stored', async () => {
    const dir = await tempDir();
    const bucket = uniqueName('mqbak-enc-kafka');
    await createBucket(bucket);
    const store = `s3://${bucket}/enc`;
    await keyInit(store, dir, 'kafka s3 secret', s3());
    await kafkaRoundTrip(store, await passwordEnv(dir, 'kafka s3 secret'), s3());
    expectNoMarker(await s3Objects(bucket, 'enc/'));
  }, 300_000);

  it('RabbitMQ, local store: round trip, no marker stored', async () => {
    const dir = await tempDir();
    const store = path.join(dir, 'store');
    await keyInit(store, dir, 'rabbit secret');
    await rabbitRoundTrip(store, await passwordEnv(dir, 'rabbit secret'), []);
    expectNoMarker(await localObjects(store));
  }, 300_000);

  it('RabbitMQ, S3 store with --s3-sse AES256: round trip, no marker stored', async () => {
    const dir = await tempDir();
    const bucket = uniqueName('mqbak-enc-rabbit');
    await createBucket(bucket);
    const store = `s3://${bucket}/enc`;
    // server-side encryption asked for too: the uploads carry it and the server takes them
    const opts = [...s3(), '--s3-sse', 'AES256'];
    await keyInit(store, dir, 'rabbit s3 secret', opts);
    await rabbitRoundTrip(store, await passwordEnv(dir, 'rabbit s3 secret'), opts);
    expectNoMarker(await s3Objects(bucket, 'enc/'));
  }, 300_000);
});
