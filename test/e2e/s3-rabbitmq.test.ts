/**
 * Archives in S3 through the mqbak binary (issue 6): a RabbitMQ backup to s3://, verified and
 * restored from there, on each test S3 server (s3rver, and the Ceph RADOS Gateway when the
 * set-up runs one); and an S3 server that dies in the middle of a backup (an s3rver of the
 * test's own): exit 5, no manifest, and a rerun once it is back gives a complete, verifiable
 * backup.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import amqp from 'amqplib';
import { createBucket, freePort, incompleteUploads, keysIn, startOwnS3rver, createVhost, deleteVhost, rabbitManagementUrl, rabbitUrl, rgwServer, s3Credentials, s3Servers, uniqueName, type S3TestServer } from '../helpers/brokers.js';
import { MQBAK_BIN, runMqbak } from '../helpers/run-mqbak.js';

/** The credentials of the s3rver the S3-stopped test starts for itself (s3rver's own). */
const ownS3rverCreds = s3Credentials();
const vhosts: string[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
  for (const v of vhosts) await deleteVhost(v).catch(() => {});
});

function s3Env(endpoint: string, creds = ownS3rverCreds): NodeJS.ProcessEnv {
  return {
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    MQBAK_S3_ENDPOINT: endpoint,
    MQBAK_S3_PATH_STYLE: '1',
    MQBAK_S3_CHECKSUM: 'when-required',
    MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl(),
  };
}

async function newVhost(prefix: string): Promise<string> {
  const v = uniqueName(prefix);
  await createVhost(v);
  vhosts.push(v);
  return v;
}

/** Puts `n` distinct persistent messages in a new classic queue of `vhost`. */
async function fillQueue(vhost: string, queue: string, n: number, size = 200): Promise<string[]> {
  const conn = await amqp.connect(rabbitUrl(vhost), { noDelay: true });
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    const body = `${i}:`.padEnd(size, String.fromCharCode(97 + (i % 26)));
    bodies.push(body);
    ch.sendToQueue(queue, Buffer.from(body), { persistent: true, messageId: `m-${i}`, headers: { i } });
    if (i % 1000 === 999) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await conn.close();
  return bodies;
}

/** Reads a queue's bodies without removing them (classic queues give them back in order). */
async function peekQueue(vhost: string, queue: string): Promise<string[]> {
  const conn = await amqp.connect(rabbitUrl(vhost), { noDelay: true });
  const ch = await conn.createChannel();
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: false });
    if (!m) break;
    out.push(m.content.toString());
  }
  await ch.close();
  await conn.close();
  return out;
}

/**
 * 200 incompressible messages of 100 KiB in a new queue: the one segment (default size 32 MiB
 * raw) stays over 16 MiB stored, so it goes up as a multipart upload.
 */
async function fillBlobs(vhost: string, queue: string): Promise<Buffer[]> {
  const conn = await amqp.connect(rabbitUrl(vhost), { noDelay: true });
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  const bodies: Buffer[] = [];
  for (let i = 0; i < 200; i++) {
    const body = randomBytes(100 * 1024);
    bodies.push(body);
    ch.sendToQueue(queue, body, { persistent: true });
  }
  await ch.waitForConfirms();
  await conn.close();
  return bodies;
}

async function sizesIn(server: S3TestServer, bucket: string, prefix: string): Promise<Map<string, number>> {
  const c = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: server.credentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
  try {
    const page = await c.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    return new Map((page.Contents ?? []).map((o) => [o.Key!, o.Size ?? 0]));
  } finally {
    c.destroy();
  }
}

describe.each(s3Servers())('S3 stores on $name through the mqbak binary', (server: S3TestServer) => {
  const creds = server.credentials;
  it('backs up a RabbitMQ queue to s3://, verifies it there and restores it from there', async () => {
    const bucket = uniqueName('mqbak-e2e');
    await createBucket(bucket, server);
    const store = `s3://${bucket}/nightly/rabbit`;
    // the settings as options this time (the other test uses the MQBAK_S3_* variables)
    const env = { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey, MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl() };
    const s3 = ['--s3-endpoint', server.endpoint, '--s3-path-style', '--s3-checksum', 'when-required'];
    const src = await newVhost('s3-src');
    const bodies = await fillQueue(src, 'jobs', 300);

    const backup = await runMqbak(['backup', rabbitUrl(src), store, '--queues', 'jobs', '--json', ...s3], { env });
    expect(backup.stderr).not.toMatch(/\n\s+at /);
    expect(backup.code).toBe(0);
    const result = JSON.parse(backup.stdout) as { id: string; records: number };
    expect(result.records).toBe(300);
    const keys = await keysIn(server.endpoint, bucket, 'nightly/rabbit/', creds);
    expect(keys).toContain(`nightly/rabbit/manifests/${result.id}.json`);
    expect(keys.some((k) => k.startsWith(`nightly/rabbit/segments/${result.id}/`))).toBe(true);

    const verify = await runMqbak(['verify', store, '--json', ...s3], { env });
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true, findings: [] });

    const list = await runMqbak(['list', store, '--json', ...s3], { env });
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((b) => b.id)).toEqual([result.id]);

    const dst = await newVhost('s3-dst');
    const restore = await runMqbak(['restore', store, rabbitUrl(dst), '--definitions', '--map', 'jobs=jobs-restored', ...s3], { env });
    expect(restore.stderr).not.toMatch(/\n\s+at /);
    expect(restore.code).toBe(0);
    expect(await peekQueue(dst, 'jobs-restored')).toEqual(bodies);
    expect(await peekQueue(src, 'jobs')).toEqual(bodies);
  });

  it('a segment over 16 MiB goes up as a multipart upload and restores byte for byte', async () => {
    const bucket = uniqueName('mqbak-big');
    await createBucket(bucket, server);
    const store = `s3://${bucket}/big`;
    const env = s3Env(server.endpoint, creds);
    const src = await newVhost('s3-big');
    const bodies = await fillBlobs(src, 'blobs');

    const backup = await runMqbak(['backup', rabbitUrl(src), store, '--queues', 'blobs', '--json'], { env });
    expect(backup.stderr).not.toMatch(/\n\s+at /);
    expect(backup.code, backup.stderr).toBe(0);
    const sizes = await sizesIn(server, bucket, 'big/segments/');
    expect(Math.max(...sizes.values())).toBeGreaterThan(16 * 1024 * 1024);
    // the multipart upload was completed, so none is left (s3rver cannot list them)
    if (server.abortsMultipart) expect(await incompleteUploads(server, bucket)).toEqual([]);

    const verify = await runMqbak(['verify', store, '--json'], { env });
    expect(verify.code).toBe(0);
    const dst = await newVhost('s3-big-dst');
    const restore = await runMqbak(['restore', store, rabbitUrl(dst), '--definitions'], { env });
    expect(restore.code).toBe(0);
    const back = await amqp.connect(rabbitUrl(dst), { noDelay: true });
    const rch = await back.createChannel();
    const got: Buffer[] = [];
    for (;;) {
      const m = await rch.get('blobs', { noAck: true });
      if (!m) break;
      got.push(m.content);
    }
    await back.close();
    expect(got.length).toBe(200);
    expect(got.every((b, i) => b.equals(bodies[i]!))).toBe(true);
  }, 120_000);

  it('a segment changed in the bucket after the backup: verify and restore from s3:// refuse it (exit 4)', async () => {
    const bucket = uniqueName('mqbak-rot');
    await createBucket(bucket, server);
    const store = `s3://${bucket}/rot`;
    const env = s3Env(server.endpoint, creds);
    const src = await newVhost('s3-rot');
    await fillQueue(src, 'q', 50);
    const backup = await runMqbak(['backup', rabbitUrl(src), store, '--queues', 'q', '--json'], { env });
    expect(backup.code).toBe(0);
    const segment = (await keysIn(server.endpoint, bucket, 'rot/segments/', creds))[0]!;
    // one byte flipped in the middle of the stored segment, same size (a plain put overwrites it)
    const c = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    const bytes = Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: bucket, Key: segment }))).Body!.transformToByteArray());
    bytes[bytes.length >> 1]! ^= 0x40;
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: segment, Body: bytes }));
    c.destroy();

    // the AWS SDK's own variables name the endpoint and checksum mode just as well
    const awsEnv = {
      AWS_ACCESS_KEY_ID: creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
      AWS_ENDPOINT_URL_S3: server.endpoint,
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      MQBAK_S3_PATH_STYLE: '1',
    };
    const verify = await runMqbak(['verify', store, '--json'], { env: awsEnv });
    expect(verify.code).toBe(4);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: false });
    expect(verify.stdout).toContain(segment.slice('rot/'.length));
    const dst = await newVhost('s3-rot-dst');
    const restore = await runMqbak(['restore', store, rabbitUrl(dst), '--definitions'], { env });
    expect(restore.stderr).not.toMatch(/\n\s+at /);
    expect(restore.code).toBe(4);
    // found by the check before the first publish: the findings as verify prints them, one error line
    expect(restore.stdout).toMatch(/SHA-256 [0-9a-f]{64}, manifest says [0-9a-f]{64}/);
    expect(restore.stderr.match(/^mqbak: error: /gm)).toHaveLength(1);
    expect(restore.stderr).toMatch(/^mqbak: error: .*1 integrity finding .*nothing was restored/m);
    // nothing was created on the target either: not even the queue its definitions would declare
    const res = await fetch(`${rabbitManagementUrl()}/api/queues/${encodeURIComponent(dst)}`, { headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as Array<{ name: string }>).map((q) => q.name)).toEqual([]);
  });

  it('--preflight sizes from s3://: a segment changed after the backup stops the restore there, although segments are read ahead', async () => {
    const bucket = uniqueName('mqbak-ahead');
    await createBucket(bucket, server);
    const store = `s3://${bucket}/ahead`;
    const env = s3Env(server.endpoint, creds);
    const src = await newVhost('s3-ahead');
    const bodies = await fillQueue(src, 'q', 200);
    const backup = await runMqbak(['backup', rabbitUrl(src), store, '--queues', 'q', '--segment-size', '4k'], { env });
    expect(backup.code, backup.stderr).toBe(0);
    const segments = (await keysIn(server.endpoint, bucket, 'ahead/segments/', creds)).sort();
    expect(segments.length).toBeGreaterThanOrEqual(4);
    // the third segment, downloaded while the second is published; same size, one byte flipped
    const bad = segments[2]!;
    const c = new S3Client({ endpoint: server.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
    const bytes = Buffer.from(await (await c.send(new GetObjectCommand({ Bucket: bucket, Key: bad }))).Body!.transformToByteArray());
    bytes[bytes.length >> 1]! ^= 0x40;
    await c.send(new PutObjectCommand({ Bucket: bucket, Key: bad, Body: bytes }));
    c.destroy();

    const dst = await newVhost('s3-ahead-dst');
    const state = await mkdtemp(path.join(tmpdir(), 'mqbak-ahead-state-'));
    cleanups.push(() => rm(state, { recursive: true, force: true }));
    const restore = await runMqbak(['restore', store, rabbitUrl(dst), '--definitions', '--preflight', 'sizes'], { env: { ...env, XDG_STATE_HOME: state } });
    expect(restore.stderr).not.toMatch(/\n\s+at /);
    expect(restore.code, restore.stderr).toBe(4);
    expect(restore.stderr).toMatch(new RegExp(`^mqbak: error: segment ${bad.slice('ahead/'.length)}: SHA-256 .*the restore stopped there`, 'm'));
    // what went out is the messages of the two segments before it, in order, and nothing after
    const published = await peekQueue(dst, 'q');
    expect(published.length).toBeGreaterThan(0);
    expect(published.length).toBeLessThan(bodies.length);
    expect(published).toEqual(bodies.slice(0, published.length));
  });

  it('SIGINT in the middle of a backup to s3://: exit 130, no manifest, every message back in its queue', async () => {
    const bucket = uniqueName('mqbak-int');
    await createBucket(bucket, server);
    const store = `s3://${bucket}/int`;
    const env = s3Env(server.endpoint, creds);
    const src = await newVhost('s3-int');
    const bodies = await fillQueue(src, 'events', 20_000, 1000);
    const child = spawn(process.execPath, [MQBAK_BIN, 'backup', rabbitUrl(src), store, '--queues', 'events', '--segment-size', '64k'], {
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    let segments = 0;
    for (let i = 0; i < 600 && child.exitCode === null; i++) {
      segments = (await keysIn(server.endpoint, bucket, 'int/segments/', creds)).length;
      if (segments >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(segments).toBeGreaterThanOrEqual(3);
    child.kill('SIGINT');
    const code = await exited;
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(code).toBe(130);
    const keys = await keysIn(server.endpoint, bucket, 'int/', creds);
    expect(keys.filter((k) => k.startsWith('int/manifests/'))).toEqual([]);
    expect(await peekQueue(src, 'events')).toEqual(bodies);
  }, 120_000);
});

const rgw = rgwServer();

describe.skipIf(!rgw)('a multipart upload interrupted on the Ceph gateway', () => {
  it('SIGINT while a segment goes up in parts: exit 130, the upload is aborted and none is left on the gateway', async () => {
    const server = rgw as S3TestServer;
    const bucket = uniqueName('mqbak-mpint');
    await createBucket(bucket, server);
    const src = await newVhost('s3-mpint');
    await fillBlobs(src, 'blobs');
    // in front of the gateway: part 1 goes through (so the gateway holds a part the abort must
    // remove), the other parts are held and never answered, so the upload is surely in flight
    const target = new URL(server.endpoint);
    const agent = new http.Agent({ keepAlive: false });
    const requests: string[] = [];
    let partHeld!: () => void;
    const held = new Promise<void>((resolve) => (partHeld = resolve));
    const proxy = http.createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      if (req.method === 'PUT' && /[?&]partNumber=(?!1(&|$))/.test(req.url!)) {
        req.resume();
        partHeld();
        return;
      }
      const headers = { ...req.headers };
      delete headers.expect;
      const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent }, (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      });
      up.on('error', () => req.socket.destroy());
      req.pipe(up);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const endpoint = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const child = spawn(process.execPath, [MQBAK_BIN, 'backup', rabbitUrl(src), `s3://${bucket}/mp`, '--queues', 'blobs'], {
        env: { ...process.env, CI: 'true', ...s3Env(endpoint, server.credentials) },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout!.resume();
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 60_000));
      expect(await Promise.race([held.then(() => 'held' as const), exited.then(() => 'exited' as const), timeout])).toBe('held');
      child.kill('SIGINT');
      const code = await exited;
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(code).toBe(130);
      expect(requests.some((r) => r.startsWith('PUT') && /[?&]partNumber=1(&|$)/.test(r))).toBe(true);
      expect(requests.some((r) => r.startsWith('DELETE') && r.includes('uploadId='))).toBe(true);
      // asked of the gateway itself: nothing of the upload is left, and no manifest was written
      expect(await incompleteUploads(server, bucket)).toEqual([]);
      expect((await keysIn(server.endpoint, bucket, 'mp/', server.credentials)).filter((k) => k.startsWith('mp/manifests/'))).toEqual([]);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      agent.destroy();
    }
  }, 120_000);
});

describe('an S3 server stopped under the mqbak binary', () => {
  // s3rver checks no V4 signature: a secret of the test's own, to look for in what mqbak prints
  const creds = { accessKeyId: ownS3rverCreds.accessKeyId, secretAccessKey: `s3SecretCut${randomBytes(12).toString('hex')}` };
  it('S3 stopped in the middle of a backup: exit 5, no manifest; back up again once it is up: complete and verifiable', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mqbak-s3rver-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    let server = await startOwnS3rver(dir, port);
    cleanups.push(async () => void server.kill('SIGKILL'));
    const bucket = uniqueName('mqbak-cut');
    const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: creds, requestChecksumCalculation: 'WHEN_REQUIRED' });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();

    const src = await newVhost('s3-cut');
    const bodies = await fillQueue(src, 'events', 20_000, 1000);
    const store = `s3://${bucket}/mq`;
    // few retries, so that the dead server is given up on quickly
    const env = { ...s3Env(endpoint, creds), MQBAK_S3_MAX_ATTEMPTS: '2' };

    const child = spawn(process.execPath, [MQBAK_BIN, 'backup', rabbitUrl(src), store, '--queues', 'events', '--segment-size', '64k'], {
      env: { ...process.env, CI: 'true', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    // kill the server once a few segments are up, while the backup is still writing
    for (let i = 0; i < 600; i++) {
      const segments = (await keysIn(endpoint, bucket, 'mq/segments/')).length;
      if (segments >= 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    server.kill('SIGKILL');
    const code = await exited;
    expect(stderr).not.toMatch(/\n\s+at /);
    expect(code).toBe(5);
    expect(stderr).toMatch(/mqbak: error: .*s3:\/\/mqbak-cut-\S+\/mq at 127\.0\.0\.1:\d+/);
    expect(stderr).not.toContain(creds.secretAccessKey); // test/e2e/s3-secrets.test.ts looks in every output, --debug included

    server = await startOwnS3rver(dir, port);
    const keys = await keysIn(endpoint, bucket, 'mq/');
    expect(keys.filter((k) => k.startsWith('mq/manifests/'))).toEqual([]);
    expect(keys.some((k) => k.startsWith('mq/segments/'))).toBe(true);
    // a mirror never removes anything: the queue still holds every message, in order
    expect(await peekQueue(src, 'events')).toEqual(bodies);

    const again = await runMqbak(['backup', rabbitUrl(src), store, '--queues', 'events', '--json'], { env });
    expect(again.code).toBe(0);
    const result = JSON.parse(again.stdout) as { id: string; records: number };
    expect(result.records).toBe(20_000);
    const verify = await runMqbak(['verify', store, '--json'], { env });
    // the dead run's segments are reported (nothing deletes them) but are not integrity failures
    expect(verify.code).toBe(0);
    const report = JSON.parse(verify.stdout) as { ok: boolean; findings: Array<{ kind?: string; type?: string; key?: string }> };
    expect(report.ok).toBe(true);
    const list = await runMqbak(['list', store, '--json'], { env });
    expect((JSON.parse(list.stdout) as Array<{ id: string; records: number }>).map((b) => [b.id, b.records])).toEqual([[result.id, 20_000]]);
  }, 180_000);
});
