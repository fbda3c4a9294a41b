/**
 * Secrets never leave mqbak (issue 14): a distinctive S3 secret access key and a distinctive
 * RabbitMQ password (in the AMQP URL, the only place it can be given) are planted, every command
 * of a backup's life runs against them, with --debug and --metrics-file, and on failures too;
 * then neither secret may be in any output: stdout, stderr (debug output included), metrics
 * files, the local state files (restore journals) and every object in the bucket.
 *
 * The S3 server is an s3rver of the test's own: it does not check V4 signatures, so any secret
 * is accepted and the planted one can be random; RabbitMQ does check the password, so the test
 * makes a user with it.
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import amqp from 'amqplib';
import { GetObjectCommand, CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { createUser, createVhost, deleteUser, deleteVhost, freePort, keysIn, rabbitManagementUrl, rabbitUrl, startOwnS3rver, uniqueName } from '../helpers/brokers.js';
import { runMqbak, type RunResult } from '../helpers/run-mqbak.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Every file under dir with its bytes. */
async function filesUnder(dir: string): Promise<Array<{ file: string; bytes: Buffer }>> {
  const out: Array<{ file: string; bytes: Buffer }> = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath, e.name);
    out.push({ file, bytes: await readFile(file) });
  }
  return out;
}

/** Where each secret occurs: the names of the places, empty when none. */
function leaks(places: Array<{ name: string; bytes: Buffer }>, secrets: string[]): string[] {
  const found: string[] = [];
  for (const p of places) {
    for (const s of secrets) {
      // as it is, and as it would be in a URL or in base64 (basic auth)
      for (const form of [s, encodeURIComponent(s), Buffer.from(s).toString('base64')]) {
        if (p.bytes.includes(Buffer.from(form))) found.push(`${p.name} holds ${form === s ? 'the secret' : `the secret as ${form}`}`);
      }
    }
  }
  return found;
}

describe('secrets given to mqbak are in none of its outputs nor in what it stores', () => {
  it('a planted S3 secret key and AMQP password: not in stdout, stderr, --debug output, metrics files, journals or stored objects', async () => {
    const s3Secret = `s3SecretLeakCheck${randomBytes(12).toString('hex')}`;
    const amqpPassword = `amqpPwLeakCheck${randomBytes(12).toString('hex')}`;
    const user = uniqueName('leak-user');
    const work = await mkdtemp(path.join(tmpdir(), 'mqbak-secrets-'));
    cleanups.push(() => rm(work, { recursive: true, force: true }));
    const s3dir = path.join(work, 's3');
    const state = path.join(work, 'state');
    const metrics = path.join(work, 'metrics');
    await mkdir(s3dir);
    await mkdir(metrics);

    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const s3 = await startOwnS3rver(s3dir, port);
    cleanups.push(async () => void s3.kill('SIGKILL'));
    const credentials = { accessKeyId: 'S3RVER', secretAccessKey: s3Secret };
    const bucket = uniqueName('mqbak-secrets');
    const admin = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
    cleanups.push(async () => admin.destroy());
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));

    const src = uniqueName('leak-src');
    const dst = uniqueName('leak-dst');
    for (const v of [src, dst]) {
      await createVhost(v);
      cleanups.push(() => deleteVhost(v));
    }
    await createUser(user, amqpPassword, src);
    await createUser(user, amqpPassword, dst);
    cleanups.push(() => deleteUser(user));
    const base = new URL(rabbitUrl());
    const urlOf = (vhost: string, password = amqpPassword): string =>
      `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${base.host}/${encodeURIComponent(vhost)}`;

    const conn = await amqp.connect(rabbitUrl(src), { noDelay: true });
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('jobs', { durable: true });
    for (let i = 0; i < 50; i++) ch.sendToQueue('jobs', Buffer.from(`job ${i}`), { persistent: true, messageId: `m${i}` });
    await ch.waitForConfirms();
    await conn.close();

    const store = `s3://${bucket}/mq`;
    const env: NodeJS.ProcessEnv = {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3Secret,
      MQBAK_S3_ENDPOINT: endpoint,
      MQBAK_S3_PATH_STYLE: '1',
      MQBAK_S3_CHECKSUM: 'when-required',
      MQBAK_S3_MAX_ATTEMPTS: '2',
      MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl(),
      XDG_STATE_HOME: state,
    };
    const runs: Array<{ name: string; r: RunResult }> = [];
    const run = async (name: string, args: string[], expectCode: number): Promise<RunResult> => {
      const r = await runMqbak(args, { env });
      runs.push({ name, r });
      expect(r.code, `${name}: ${r.stderr}`).toBe(expectCode);
      return r;
    };

    const backup = await run('backup', ['backup', urlOf(src), store, '--queues', 'jobs', '--json', '--debug', '--metrics-file', path.join(metrics, 'backup.prom')], 0);
    const id = (JSON.parse(backup.stdout) as { id: string }).id;
    await run('backup (text)', ['backup', urlOf(src), store, '--queues', 'jobs', '--debug'], 0);
    await run('list', ['list', store, '--debug'], 0);
    await run('list --json', ['list', store, '--json'], 0);
    await run('show', ['show', store, id, '--debug'], 0);
    await run('show --json', ['show', store, id, '--json'], 0);
    await run('cat', ['cat', store, id], 0);
    await run('verify', ['verify', store, '--debug', '--metrics-file', path.join(metrics, 'verify.prom')], 0);
    await run('restore', ['restore', store, urlOf(dst), '--backup', id, '--definitions', '--debug', '--metrics-file', path.join(metrics, 'restore.prom')], 0);
    await run('restore --json', ['restore', store, urlOf(dst), '--backup', id, '--json'], 0);
    // failures print the URLs they could not use
    await run('backup of a missing queue', ['backup', urlOf(src), store, '--queues', 'no-such-queue', '--debug'], 10);
    const closed = await freePort();
    const deadAmqp = urlOf(src).replace(base.host, `127.0.0.1:${closed}`);
    const unreachable = await runMqbak(['backup', deadAmqp, store, '--queues', 'jobs', '--debug', '--metrics-file', path.join(metrics, 'failed.prom')], { env, timeoutMs: 120_000 });
    runs.push({ name: 'backup from a closed port', r: unreachable });
    expect(unreachable.code).toBe(5);
    s3.kill('SIGKILL');
    await new Promise((resolve) => s3.once('exit', resolve));
    await run('list with S3 down', ['list', store, '--debug'], 5);

    // the checks below look where the secrets would be: the URLs and endpoint were printed
    const allOutput = runs.map(({ r }) => r.stdout + r.stderr).join('\n');
    expect(allOutput).toContain(`amqp://${user}@`); // the URL, its password left out
    expect(allOutput).toContain(endpoint.replace('http://', ''));

    const restarted = await startOwnS3rver(s3dir, port);
    cleanups.push(async () => void restarted.kill('SIGKILL'));
    const keys = await keysIn(endpoint, bucket, '', credentials);
    expect(keys.some((k) => k.startsWith('mq/manifests/'))).toBe(true);
    expect(keys.some((k) => k.startsWith('mq/segments/'))).toBe(true);
    const objects: Array<{ name: string; bytes: Buffer }> = [];
    for (const key of keys) {
      const o = await admin.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      objects.push({ name: `object ${key}`, bytes: Buffer.from(await o.Body!.transformToByteArray()) });
    }
    const metricFiles = await filesUnder(metrics);
    expect(metricFiles.map((f) => path.basename(f.file)).sort()).toEqual(['backup.prom', 'failed.prom', 'restore.prom', 'verify.prom']);
    const stateFiles = await filesUnder(state);
    expect(stateFiles.length).toBeGreaterThan(0); // the restore journals

    const places = [
      ...runs.flatMap(({ name, r }) => [
        { name: `${name}: stdout`, bytes: Buffer.from(r.stdout) },
        { name: `${name}: stderr`, bytes: Buffer.from(r.stderr) },
      ]),
      ...metricFiles.map((f) => ({ name: f.file, bytes: f.bytes })),
      ...stateFiles.map((f) => ({ name: f.file, bytes: f.bytes })),
      ...objects,
    ];
    expect(leaks(places, [s3Secret, amqpPassword])).toEqual([]);
  }, 240_000);
});
