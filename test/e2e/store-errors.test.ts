/**
 * A store that cannot take a backup is refused before the broker is read, and every store
 * problem has an exit status a script can trust (issue 14): a store path that is a regular file
 * (exit 2, the user's path), a read-only folder, a folder this user may not write, a full disk
 * (exit 5 with the path and the cause), `list` of a path that does not exist or is a file and a
 * missing S3 bucket for every command (exit 10). RabbitMQ queues keep their messages, none
 * delivered (a mirror's read would mark them redelivered; a drain's would remove them).
 *
 * Read-only folders and full disks are real: a tmpfs mounted in a mount namespace of the mqbak
 * process's own (unshare), read-only, or with a size smaller than the backup. That needs root
 * (the tests run as root, for whom file modes do not make a folder read-only); "not allowed to
 * write" runs mqbak as root without any capability (setpriv emptying the bounding set), for whom
 * a folder's modes count as for its owner; as the user nobody it would fail to read a checkout
 * under a folder of mode 700, such as one `mktemp -d` makes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { queueDepth, type RabbitConnection } from '../../src/brokers/rabbitmq/index.js';
import { createBucket, freePort, kafkaCreateTopic, rabbitManagementUrl, rgwServer, s3Client, s3Credentials, s3Endpoint, uniqueName, type S3TestServer } from '../helpers/brokers.js';
import { produceVaried, url as kafkaUrl } from '../helpers/kafka-e2e.js';
import { declare, env as rabbitEnv, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';
import { MQBAK_BIN, runMqbak, type RunResult } from '../helpers/run-mqbak.js';

const { newVhost } = useRabbitE2e();
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mqbak-store-errors-'));
  dirs.push(d);
  return d;
}

/** A mount namespace with a tmpfs of our own can be made here (root, unshare allowed). */
const canMount = process.getuid?.() === 0 && spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;
const canDropCapabilities = process.getuid?.() === 0 && spawnSync('setpriv', ['--bounding-set=-all', '--inh-caps=-all', 'true']).status === 0;
if (!canMount) process.stderr.write('note: store-errors: not root or unshare --mount refused: the read-only and full-disk cases are skipped\n');
if (!canDropCapabilities) process.stderr.write('note: store-errors: not root or setpriv cannot drop capabilities: the "may not write" case is skipped\n');

/** A user-facing failure: exactly one `mqbak: error:` line, at most one hint right after it, no stack trace. */
function expectOneError(r: RunResult, status: number, message: RegExp): string {
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  const errors = lines.filter((l) => l.startsWith('mqbak: error:'));
  expect(errors, r.stderr).toHaveLength(1);
  expect(errors[0]).toMatch(message);
  const at = lines.indexOf(errors[0]!);
  expect(lines.slice(at + 1).filter((l) => !l.startsWith('hint: ')), r.stderr).toEqual([]);
  expect(lines.filter((l) => l.startsWith('hint: ')).length).toBeLessThanOrEqual(1);
  expect(r.stderr).not.toMatch(/^\s+at \S/m);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.code, r.stderr).toBe(status);
  return errors[0]!;
}

interface Mounted {
  /** Where the tmpfs is mounted, the same path inside the namespace and out. */
  mnt: string;
  /** A copy of what the tmpfs held when mqbak ended (the tmpfs ends with the namespace). */
  copy: string;
}

/**
 * Runs mqbak with `args(mnt)` in a mount namespace of its own where `mnt` is a new tmpfs
 * mounted with `options` and holding an empty folder `store`; `readOnly` remounts it read-only
 * before mqbak starts. Afterwards the tmpfs's content is copied out.
 */
async function runOnTmpfs(options: string, readOnly: boolean, args: (mnt: string) => string[], env: NodeJS.ProcessEnv): Promise<RunResult & Mounted> {
  const mnt = await tempDir();
  const copy = await tempDir();
  const script = [
    'opts=$1; mnt=$2; copy=$3; ro=$4; shift 4',
    'mount -t tmpfs -o "$opts" mqbak-test "$mnt" || exit 97',
    'mkdir "$mnt/store" || exit 97',
    'if [ "$ro" = 1 ]; then mount -o remount,ro "$mnt" || exit 97; fi',
    '"$@"; rc=$?',
    'cp -a "$mnt/." "$copy/" || exit 98',
    'exit $rc',
  ].join('\n');
  const argv = ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', options, mnt, copy, readOnly ? '1' : '0', process.execPath, MQBAK_BIN, ...args(mnt)];
  const r = await new Promise<RunResult>((resolve, reject) => {
    const child = spawn('unshare', argv, { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  expect(r.code, `the test's own mount failed: ${r.stderr}`).not.toBe(97);
  expect(r.code, `copying the tmpfs failed: ${r.stderr}`).not.toBe(98);
  return { ...r, mnt, copy };
}

/** Every file under dir, relative to it. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(path.join(d, e.name));
      else out.push(path.relative(dir, path.join(d, e.name)));
    }
  };
  await walk(dir);
  return out.sort();
}

/** A queue of `n` persistent messages of `size` random bytes (they do not compress). */
async function queueWith(prefix: string, n: number, size = 100): Promise<{ url: string; conn: RabbitConnection; queue: string }> {
  const { url, conn } = await newVhost(prefix);
  const queue = 'orders';
  await declare(conn, queue);
  const ch = await conn.model.createConfirmChannel();
  for (let i = 0; i < n; i++) ch.sendToQueue(queue, randomBytes(size), { persistent: true, messageId: `m${i}` });
  await ch.waitForConfirms();
  await ch.close();
  return { url, conn, queue };
}

/** The queue still holds all `n` messages and none was ever delivered (a read would mark it redelivered). */
async function expectUntouched(conn: RabbitConnection, queue: string, n: number): Promise<void> {
  expect((await queueDepth(conn, queue)).messages).toBe(n);
  const ch = await conn.model.createChannel();
  try {
    for (let i = 0; i < n; i++) {
      const m = await ch.get(queue, { noAck: false });
      expect(m, `message ${i} of ${n}`).not.toBe(false);
      if (m !== false) expect(m.fields.redelivered, `message ${m.properties.messageId as string}`).toBe(false);
    }
  } finally {
    await ch.close(); // unacked: back on the queue
  }
}

describe('backup into a store that cannot take it is refused before the broker is read', () => {
  it.each(['mirror', 'drain'])('RabbitMQ %s into a path that is a regular file, or under one: exit 2, the queue untouched', async (mode) => {
    const n = 5;
    const { url, conn, queue } = await queueWith(`se-file-${mode}`, n);
    const dir = await tempDir();
    const file = path.join(dir, 'backups.tar');
    await writeFile(file, 'not a folder');
    const asFile = await runMqbak(['backup', url, file, '--queues', queue, '--mode', mode], { env: rabbitEnv });
    expectOneError(asFile, 2, new RegExp(`store ${file} is a file, not a folder`));
    const under = await runMqbak(['backup', url, path.join(file, 'store'), '--queues', queue, '--mode', mode], { env: rabbitEnv });
    expectOneError(under, 2, new RegExp(`${file} is a file, not a folder`));
    await expectUntouched(conn, queue, n);
  });

  it.skipIf(!canMount).each(['mirror', 'drain'])('RabbitMQ %s into a read-only folder: exit 5 naming the folder and the cause, the queue untouched', async (mode) => {
    const n = 5;
    const { url, conn, queue } = await queueWith(`se-ro-${mode}`, n);
    const r = await runOnTmpfs('size=1m', true, (mnt) => ['backup', url, path.join(mnt, 'store'), '--queues', queue, '--mode', mode], rabbitEnv);
    const line = expectOneError(r, 5, /EROFS: read-only file system/);
    expect(line).toContain(path.join(r.mnt, 'store'));
    expect(await filesUnder(r.copy)).toEqual([]);
    await expectUntouched(conn, queue, n);
  });

  it.skipIf(!canDropCapabilities)('RabbitMQ drain into a folder this user may not write: exit 5 naming the folder, the queue untouched', async () => {
    const n = 5;
    const { url, conn, queue } = await queueWith('se-acces', n);
    const dir = await tempDir();
    const store = path.join(dir, 'store');
    await mkdir(store);
    await chmod(store, 0o555);
    const r = await new Promise<RunResult>((resolve) => {
      const child = spawn('setpriv', ['--bounding-set=-all', '--inh-caps=-all', process.execPath, MQBAK_BIN, 'backup', url, store, '--queues', queue, '--mode', 'drain'], {
        env: { ...process.env, CI: 'true', ...rabbitEnv, HOME: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    });
    const line = expectOneError(r, 5, /EACCES: permission denied/);
    expect(line).toContain(store);
    expect(await readdir(store)).toEqual([]);
    await expectUntouched(conn, queue, n);
  });

  it('Kafka into a path that is a regular file: exit 2 about the store, also when the broker is down (the store comes first)', async () => {
    const topic = uniqueName('se-file');
    await kafkaCreateTopic(topic, 2);
    await produceVaried(topic, 2, 20);
    const dir = await tempDir();
    const file = path.join(dir, 'store');
    await writeFile(file, 'x');
    expectOneError(await runMqbak(['backup', kafkaUrl(), file, '--topics', topic]), 2, new RegExp(`store ${file} is a file, not a folder`));
    const down = `kafka://127.0.0.1:${await freePort()}`;
    expectOneError(await runMqbak(['backup', down, file, '--topics', topic]), 2, new RegExp(`store ${file} is a file, not a folder`));
  });

  it.skipIf(!canMount)('Kafka into a read-only folder: exit 5 naming the folder and the cause, nothing written', async () => {
    const topic = uniqueName('se-ro');
    await kafkaCreateTopic(topic, 2);
    await produceVaried(topic, 2, 20);
    const r = await runOnTmpfs('size=1m', true, (mnt) => ['backup', kafkaUrl(), path.join(mnt, 'store'), '--topics', topic], {});
    expect(expectOneError(r, 5, /EROFS: read-only file system/)).toContain(path.join(r.mnt, 'store'));
    expect(await filesUnder(r.copy)).toEqual([]);
  });
});

describe.skipIf(!canMount)('a disk that fills up during a backup', () => {
  // 300 messages of 2 KiB random bytes (600 KiB stored) on a tmpfs of 256 KiB
  const n = 300;
  const size = 2048;

  it('mirror: exit 5 naming the file it could not write and the cause; no manifest, no temporary file', async () => {
    const { url, conn, queue } = await queueWith('se-full-mirror', n, size);
    const r = await runOnTmpfs('size=256k', false, (mnt) => ['backup', url, path.join(mnt, 'store'), '--queues', queue, '--segment-size', '64k'], rabbitEnv);
    const line = expectOneError(r, 5, /ENOSPC: no space left on device/);
    // the file itself, as `ls` or `df` would take it
    expect(line).toMatch(new RegExp(`\\(${path.join(r.mnt, 'store', 'segments')}/\\S+\\.seg\\)`));
    const files = await filesUnder(r.copy);
    expect(files.filter((f) => f.startsWith('store/segments/')).length).toBeGreaterThan(0); // it did fill the disk
    expect(files.filter((f) => f.startsWith('store/manifests/'))).toEqual([]);
    expect(files.filter((f) => f.includes('.mqbak-tmp-'))).toEqual([]);
    expect((await queueDepth(conn, queue)).messages).toBe(n); // a mirror never removes
  });

  it('drain: exit 5 with the path; what was acked is exactly what committed checkpoints hold, and those verify', async () => {
    const { url, conn, queue } = await queueWith('se-full-drain', n, size);
    const r = await runOnTmpfs('size=256k', false, (mnt) => ['backup', url, path.join(mnt, 'store'), '--queues', queue, '--mode', 'drain', '--checkpoint', '50', '--segment-size', '64k'], rabbitEnv);
    const line = expectOneError(r, 5, /ENOSPC: no space left on device/);
    expect(line).toContain(`${path.join(r.mnt, 'store')}/`); // the file inside the store, not only the store
    expect((await filesUnder(r.copy)).filter((f) => f.includes('.mqbak-tmp-'))).toEqual([]);
    const store = path.join(r.copy, 'store');
    const list = await runMqbak(['list', store, '--json']);
    expect(list.code, list.stderr).toBe(0);
    const committed = (JSON.parse(list.stdout) as Array<{ records: number }>).reduce((k, b) => k + b.records, 0);
    expect(committed).toBeLessThan(n); // the disk filled before the end
    expect((await queueDepth(conn, queue)).messages).toBe(n - committed);
    expect(committed).toBeGreaterThan(0); // the first checkpoint fits
    const verify = await runMqbak(["verify", store]);
    expect(verify.code, verify.stderr).toBe(0);
  });
});

describe('list of a store that is not there', () => {
  it('a path that does not exist, a regular file, or a path under a file: exit 10; an empty folder is an empty store (exit 0)', async () => {
    const dir = await tempDir();
    const missing = path.join(dir, 'bakcups');
    expectOneError(await runMqbak(['list', missing]), 10, new RegExp(`store ${missing} does not exist`));
    expectOneError(await runMqbak(['list', missing, '--json']), 10, new RegExp(`store ${missing} does not exist`));
    const file = path.join(dir, 'file');
    await writeFile(file, 'x');
    expectOneError(await runMqbak(['list', file]), 10, new RegExp(`store ${file} is a file, not a folder`));
    expectOneError(await runMqbak(['list', path.join(file, 'sub')]), 10, new RegExp(`${file} is a file`));
    const empty = path.join(dir, 'empty');
    await mkdir(empty);
    const ok = await runMqbak(['list', empty]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stderr).toContain(`no backups in ${empty}`);
  });
});

describe('a missing S3 bucket', () => {
  const creds = s3Credentials();
  const env = (): NodeJS.ProcessEnv => ({
    AWS_ACCESS_KEY_ID: creds.accessKeyId,
    AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
    MQBAK_S3_ENDPOINT: s3Endpoint(),
    MQBAK_S3_PATH_STYLE: '1',
    MQBAK_S3_CHECKSUM: 'when-required',
    MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl(),
    MQBAK_S3_MAX_ATTEMPTS: '2',
  });

  it('is exit 10 naming the bucket for every command that reads a store', async () => {
    const bucket = uniqueName('nobucket');
    const store = `s3://${bucket}/prod`;
    const id = '20261204T000000000Z-aaaaaa';
    for (const args of [['list', store], ['verify', store], ['show', store, id], ['cat', store, id], ['restore', store, 'kafka://127.0.0.1:1']]) {
      const r = await runMqbak(args, { env: env() });
      expectOneError(r, 10, new RegExp(`bucket ${bucket} does not exist`));
      expect(r.stderr, args[0]).not.toContain(creds.secretAccessKey);
    }
  });

  it('backup into it: exit 10, mqbak does not create it, the queue untouched', async () => {
    const n = 5;
    const { url, conn, queue } = await queueWith('se-nobucket', n);
    const bucket = uniqueName('nobucket');
    const r = await runMqbak(['backup', url, `s3://${bucket}/prod`, '--queues', queue, '--mode', 'drain'], { env: env() });
    expectOneError(r, 10, new RegExp(`bucket ${bucket} does not exist`));
    expect(r.stderr).toMatch(/^hint: .*never creates buckets/m);
    await expectUntouched(conn, queue, n);
    // and a bucket that exists takes the same backup
    await createBucket(bucket);
    const ok = await runMqbak(['backup', url, `s3://${bucket}/prod`, '--queues', queue, '--mode', 'drain'], { env: env() });
    expect(ok.code, ok.stderr).toBe(0);
    expect((await queueDepth(conn, queue)).messages).toBe(0);
  });
});

// s3rver enforces no permissions: a bucket the credentials may read but not write needs the gateway
const rgw = rgwServer();
describe.skipIf(!rgw)('a bucket these credentials may not write, on the Ceph gateway', () => {
  const server = rgw as S3TestServer;

  it('backup: exit 5 access denied, refused before the queue is read; list still works', async () => {
    const n = 5;
    const { url, conn, queue } = await queueWith('se-readonly-bucket', n);
    const bucket = uniqueName('mqbak-nowrite');
    await createBucket(bucket, server);
    const { PutBucketPolicyCommand, DeleteBucketPolicyCommand } = await import('@aws-sdk/client-s3');
    const client = await s3Client(server);
    // an explicit Deny binds the bucket's owner too (the owner may still change the policy)
    const policy = { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: { AWS: ['*'] }, Action: ['s3:PutObject'], Resource: [`arn:aws:s3:::${bucket}/*`] }] };
    await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    try {
      const env = {
        AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
        MQBAK_S3_ENDPOINT: server.endpoint,
        MQBAK_S3_PATH_STYLE: '1',
        MQBAK_S3_CHECKSUM: 'when-required',
        MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl(),
      };
      const list = await runMqbak(['list', `s3://${bucket}/prod`, '--json'], { env });
      expect(list.code, list.stderr).toBe(0);
      for (const mode of ['mirror', 'drain']) {
        const r = await runMqbak(['backup', url, `s3://${bucket}/prod`, '--queues', queue, '--mode', mode], { env });
        expectOneError(r, 5, /access denied \(AccessDenied\)/);
        expect(r.stderr).not.toContain(server.credentials.secretAccessKey);
      }
      await expectUntouched(conn, queue, n);
    } finally {
      await client.send(new DeleteBucketPolicyCommand({ Bucket: bucket })).catch(() => {});
      client.destroy();
    }
  });
});
