/**
 * Where the test brokers are and how to prepare them, for integration and end-to-end tests.
 * The vitest globalSetup (global-setup.ts) starts the local brokers and sets the MQBAK_TEST_*
 * variables; set them yourself to run against other brokers (docker-compose.yml).
 * Tests use uniqueName() for every topic, queue, vhost and bucket so runs never see each other.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';

const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
const DEFAULT_MANAGEMENT_URL = 'http://127.0.0.1:15672';
/** s3rver's fixed credentials (it checks request signatures against them). */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

function env(name: string): string | undefined {
  const v = process.env[name]?.trim();
  return v ? v : undefined;
}

function required(name: string, what: string): string {
  const v = env(name);
  if (!v) {
    throw new Error(
      `${name} is not set: run the tests through vitest (the integration/e2e globalSetup starts ${what}) or set it yourself`,
    );
  }
  return v;
}

/** Bootstrap addresses of the Kafka test cluster (env MQBAK_TEST_KAFKA_BROKERS, comma list). */
export function kafkaBrokers(): string[] {
  return required('MQBAK_TEST_KAFKA_BROKERS', 'the Kafka test broker')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Creates a topic with exactly `partitions` partitions and returns once its metadata shows them.
 * Against the test set-up's own mock cluster (MQBAK_TEST_KAFKA_CONTROL set) this goes through
 * mockd's stdin `create` command (no admin round trip, no metadata wait on the client side);
 * against a real Kafka it uses the admin API.
 */
export async function kafkaCreateTopic(name: string, partitions: number): Promise<void> {
  if (!/^[A-Za-z0-9._-]{1,249}$/.test(name)) throw new Error(`invalid Kafka topic name: ${JSON.stringify(name)}`);
  if (!Number.isInteger(partitions) || partitions < 1) throw new Error(`invalid partition count: ${partitions}`);
  const control = env('MQBAK_TEST_KAFKA_CONTROL');
  if (control) {
    const reply = await kafkaMockCommand(control, `create ${name} ${partitions}`);
    if (reply !== 'ok') throw new Error(`kafka mock: create ${name} ${partitions}: ${reply}`);
    return;
  }
  const { default: kafkajs } = await import('kafkajs');
  const kafka = new kafkajs.Kafka({
    brokers: kafkaBrokers(),
    clientId: 'mqbak-test-helper',
    logLevel: kafkajs.logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  try {
    // kafkajs answers false for a topic that exists; fail as the mock's `create` does
    const created = await admin.createTopics({ topics: [{ topic: name, numPartitions: partitions }], waitForLeaders: true });
    if (!created) throw new Error(`kafka: create ${name} ${partitions}: topic already exists`);
    // createTopics can return before every broker's metadata cache has the new topic
    const deadline = Date.now() + 30_000;
    for (;;) {
      const seen = await admin
        .fetchTopicMetadata({ topics: [name] })
        .then((m) => m.topics[0]?.partitions.length ?? 0, () => 0);
      if (seen === partitions) return;
      if (Date.now() > deadline) throw new Error(`topic ${name}: metadata shows ${seen} partitions, not ${partitions}, after 30 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

/** Sends one command line to the test set-up's mockd control port and returns its one-line reply. */
function kafkaMockCommand(control: string, line: string): Promise<string> {
  const i = control.lastIndexOf(':');
  const host = control.slice(0, i);
  const port = Number(control.slice(i + 1));
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const sock = net.connect({ host, port });
    sock.setEncoding('utf8');
    sock.setTimeout(30_000, () => sock.destroy(new Error(`kafka mock control ${control}: no reply to "${line}" in 30 s`)));
    sock.on('connect', () => sock.write(`${line}\n`));
    sock.on('data', (d: string) => {
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl >= 0 && !done) {
        done = true;
        resolve(buf.slice(0, nl));
        sock.end();
      }
    });
    sock.on('error', (e) => {
      if (!done) reject(new Error(`kafka mock control ${control}: ${e.message}`));
      done = true;
    });
    sock.on('close', () => {
      if (!done) reject(new Error(`kafka mock control ${control}: closed without a reply to "${line}"`));
      done = true;
    });
  });
}

function amqpBase(): URL {
  return new URL(env('MQBAK_TEST_AMQP_URL') ?? DEFAULT_AMQP_URL);
}

/** AMQP URL of the test RabbitMQ, for `vhost` when given (url-encoded), else its default vhost. */
export function rabbitUrl(vhost?: string): string {
  const base = env('MQBAK_TEST_AMQP_URL') ?? DEFAULT_AMQP_URL;
  if (vhost === undefined) return base;
  const u = new URL(base);
  const auth = u.username ? `${u.username}:${u.password}@` : '';
  return `${u.protocol}//${auth}${u.host}/${encodeURIComponent(vhost)}${u.search}`;
}

/** Base URL of the RabbitMQ management API (guest/guest unless the URLs say otherwise). */
export function rabbitManagementUrl(): string {
  return (env('MQBAK_TEST_RABBITMQ_MANAGEMENT_URL') ?? DEFAULT_MANAGEMENT_URL).replace(/\/+$/, '');
}

interface Credentials {
  user: string;
  password: string;
}

function amqpUser(): Credentials {
  const u = amqpBase();
  return u.username
    ? { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) }
    : { user: 'guest', password: 'guest' };
}

async function management(method: string, path: string, body?: unknown): Promise<Response> {
  // fetch refuses URLs with credentials in them: move them to the header
  const u = new URL(rabbitManagementUrl());
  const creds = u.username
    ? { user: decodeURIComponent(u.username), password: decodeURIComponent(u.password) }
    : amqpUser();
  u.username = '';
  u.password = '';
  const url = `${u.toString().replace(/\/+$/, '')}${path}`;
  const res = await fetch(url, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${creds.user}:${creds.password}`).toString('base64')}`,
      'content-type': 'application/json',
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return res;
}

async function expectOk(res: Response, what: string, alsoOk: number[] = []): Promise<void> {
  if (res.ok || alsoOk.includes(res.status)) return;
  throw new Error(`RabbitMQ management API: ${what}: HTTP ${res.status} ${await res.text()}`);
}

/** Creates a vhost and gives the test user (guest by default) full permissions on it. */
export async function createVhost(name: string): Promise<void> {
  const vh = encodeURIComponent(name);
  await expectOk(await management('PUT', `/api/vhosts/${vh}`, {}), `create vhost ${name}`);
  const user = encodeURIComponent(amqpUser().user);
  await expectOk(
    await management('PUT', `/api/permissions/${vh}/${user}`, { configure: '.*', write: '.*', read: '.*' }),
    `grant ${amqpUser().user} on vhost ${name}`,
  );
}

/** Deletes a vhost with everything in it; a vhost that does not exist is not an error. */
export async function deleteVhost(name: string): Promise<void> {
  await expectOk(await management('DELETE', `/api/vhosts/${encodeURIComponent(name)}`), `delete vhost ${name}`, [404]);
}

/** Creates a RabbitMQ user with this password, the "management" tag (mqbak reads queues through the management API) and full permissions on vhost. */
export async function createUser(name: string, password: string, vhost: string): Promise<void> {
  const user = encodeURIComponent(name);
  await expectOk(await management('PUT', `/api/users/${user}`, { password, tags: 'administrator' }), `create user ${name}`);
  await expectOk(
    await management('PUT', `/api/permissions/${encodeURIComponent(vhost)}/${user}`, { configure: '.*', write: '.*', read: '.*' }),
    `grant ${name} on vhost ${vhost}`,
  );
}

/** Deletes a RabbitMQ user; one that does not exist is not an error. */
export async function deleteUser(name: string): Promise<void> {
  await expectOk(await management('DELETE', `/api/users/${encodeURIComponent(name)}`), `delete user ${name}`, [404]);
}

/** URL of the test NATS server with JetStream (env MQBAK_TEST_NATS_URL). */
export function natsUrl(): string {
  return required('MQBAK_TEST_NATS_URL', 'a nats-server');
}

/** Endpoint of the test S3 server (env MQBAK_TEST_S3_ENDPOINT). */
export function s3Endpoint(): string {
  return required('MQBAK_TEST_S3_ENDPOINT', 'an s3rver');
}

/**
 * Credentials for the test S3 server: MQBAK_TEST_S3_ACCESS_KEY_ID/_SECRET_ACCESS_KEY, else the
 * AWS_* variables (MinIO in docker-compose), else s3rver's fixed S3RVER/S3RVER.
 */
export function s3Credentials(): { accessKeyId: string; secretAccessKey: string } {
  return {
    accessKeyId: env('MQBAK_TEST_S3_ACCESS_KEY_ID') ?? env('AWS_ACCESS_KEY_ID') ?? S3RVER_CREDENTIALS.accessKeyId,
    secretAccessKey:
      env('MQBAK_TEST_S3_SECRET_ACCESS_KEY') ?? env('AWS_SECRET_ACCESS_KEY') ?? S3RVER_CREDENTIALS.secretAccessKey,
  };
}

/**
 * One S3 server the S3 tests run against. What differs between them, as the tests need to know:
 * s3rver is a fake (no signature or Content-MD5 checks, If-None-Match ignored, no
 * AbortMultipartUpload); the Ceph RADOS Gateway is a production S3 implementation.
 */
export interface S3TestServer {
  /** for test names: 's3rver' or 'ceph-rgw' */
  name: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** a second conditional write (If-None-Match: *) is refused by the server itself */
  conditionalWrites: boolean;
  /** AbortMultipartUpload is implemented, and ListMultipartUploads shows what is left */
  abortsMultipart: boolean;
}

/** The default test S3 server (MQBAK_TEST_S3_*: the set-up's s3rver, or what you set). */
export function s3rverServer(): S3TestServer {
  return { name: 's3rver', endpoint: s3Endpoint(), credentials: s3Credentials(), conditionalWrites: false, abortsMultipart: false };
}

/**
 * The Ceph RADOS Gateway of test/brokers/ceph-rgw.sh (MQBAK_TEST_RGW_*), or undefined when the
 * set-up has none: only outside CI, where Ceph's packages may not be installed (the set-up says so).
 */
export function rgwServer(): S3TestServer | undefined {
  const endpoint = env('MQBAK_TEST_RGW_ENDPOINT');
  if (!endpoint) return undefined;
  return {
    name: 'ceph-rgw',
    endpoint,
    credentials: { accessKeyId: required('MQBAK_TEST_RGW_ACCESS_KEY_ID', 'the Ceph gateway'), secretAccessKey: required('MQBAK_TEST_RGW_SECRET_ACCESS_KEY', 'the Ceph gateway') },
    conditionalWrites: true,
    abortsMultipart: true,
  };
}

/** Every S3 server of this test run, for describe.each: s3rver, then the Ceph gateway when there is one. */
export function s3Servers(): S3TestServer[] {
  const rgw = rgwServer();
  return rgw ? [s3rverServer(), rgw] : [s3rverServer()];
}

/** An SDK client for a test S3 server, with the settings every compatible server needs. */
export async function s3Client(server: S3TestServer = s3rverServer()): Promise<import('@aws-sdk/client-s3').S3Client> {
  const { S3Client } = await import('@aws-sdk/client-s3');
  return new S3Client({
    endpoint: server.endpoint,
    region: env('MQBAK_TEST_S3_REGION') ?? 'us-east-1',
    credentials: server.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Creates a bucket on a test S3 server (the default one unless given). */
export async function createBucket(name: string, server: S3TestServer = s3rverServer()): Promise<void> {
  const { CreateBucketCommand } = await import('@aws-sdk/client-s3');
  const client = await s3Client(server);
  try {
    await client.send(new CreateBucketCommand({ Bucket: name }), { abortSignal: AbortSignal.timeout(30_000) });
  } finally {
    client.destroy();
  }
}

/**
 * Multipart uploads started and neither completed nor aborted under prefix in the bucket (their
 * parts stay on the server, invisible to listings of objects): keys and upload ids.
 */
export async function incompleteUploads(server: S3TestServer, bucket: string, prefix = ''): Promise<string[]> {
  const { ListMultipartUploadsCommand } = await import('@aws-sdk/client-s3');
  const client = await s3Client(server);
  try {
    const out: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }));
      for (const u of page.Uploads ?? []) out.push(`${u.Key} ${u.UploadId}`);
      if (!page.IsTruncated) return out;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  } finally {
    client.destroy();
  }
}

let counter = 0;

/**
 * `prefix` plus time, process and randomness: unique per call and across concurrent runs, and
 * valid as a Kafka topic, RabbitMQ queue or vhost and S3 bucket name (lowercase letters, digits
 * and dashes, at most 63 characters, starting and ending with a letter or digit).
 */
export function uniqueName(prefix: string): string {
  const suffix = [
    Date.now().toString(36),
    process.pid.toString(36) + (counter++).toString(36),
    randomBytes(3).toString('hex'),
  ].join('-');
  const clean =
    prefix
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63 - suffix.length - 1)
      .replace(/-+$/, '') || 't';
  return `${clean}-${suffix}`;
}

/**
 * Every key under prefix in the bucket. s3rver writes an object's file before its metadata file,
 * and a listing that reads a metadata file half written by a concurrent upload fails with
 * InternalError: polling a store that a backup is writing to, such a listing is tried again.
 */
export async function keysIn(endpoint: string, bucket: string, prefix: string, credentials = s3Credentials()): Promise<string[]> {
  const { S3Client, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
  const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
  try {
    for (let attempt = 1; ; attempt++) {
      const keys: string[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
          for (const o of page.Contents ?? []) keys.push(o.Key!);
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        return keys;
      } catch (e) {
        if ((e as { name?: unknown }).name !== 'InternalError' || attempt === 5) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    c.destroy();
  }
}

/**
 * s3rver writes an object, then its metadata file, neither atomically: killed with SIGKILL in
 * between, it leaves an object whose metadata does not parse, and every later listing of the
 * bucket fails on it (InternalError). A real S3 never shows a half-done PUT: such objects are
 * removed, as if their PUT had not happened.
 */
export async function dropTornS3rverObjects(dir: string): Promise<void> {
  const SUFFIX = '._S3rver_metadata.json';
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const f = path.join(d, e.name);
      if (e.isDirectory()) await walk(f);
      else if (e.name.endsWith(SUFFIX)) {
        try {
          JSON.parse(await readFile(f, 'utf8'));
        } catch {
          const object = f.slice(0, -SUFFIX.length) + '._S3rver_object';
          await Promise.all([f, object, `${object}.md5`].map((x) => rm(x, { force: true })));
        }
      }
    }
  };
  await walk(dir);
}

/**
 * An s3rver of a test's own on `dir`, so that it can be killed in the middle of a backup. Started
 * again on the same folder, it first drops what a kill left half written (dropTornS3rverObjects).
 */
export async function startOwnS3rver(dir: string, port: number, options: { keepTorn?: boolean } = {}): Promise<ChildProcess> {
  if (!options.keepTorn) await dropTornS3rverObjects(dir);
  const child = spawn(process.execPath, ['--openssl-legacy-provider', 'node_modules/s3rver/bin/s3rver.js', '-d', dir, '-a', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited ${code}`)));
  });
  child.stdout!.resume();
  return child;
}

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
