/**
 * forget, prune and unlock through the mqbak binary (issue 17), on a local folder and on S3
 * (s3rver), with Kafka chains and a RabbitMQ drain chain: each policy option's plan, --dry-run
 * changing nothing, kept backups that verify and read back as before, removed manifests and
 * their segments gone, prune killed with SIGKILL at several points, and a backup running while
 * prune runs.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { createBucket, createVhost, deleteVhost, kafkaBrokers, kafkaCreateTopic, keysIn, rabbitManagementUrl, rabbitUrl, s3Credentials, s3Endpoint, uniqueName } from '../helpers/brokers.js';
import { MQBAK_BIN, runMqbak, type RunResult } from '../helpers/run-mqbak.js';
import { connectRabbit } from '../../src/brokers/rabbitmq/index.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

const kafkaUrl = (): string => `kafka://${kafkaBrokers().join(',')}`;
const creds = s3Credentials();
const s3Env = (): NodeJS.ProcessEnv => ({ AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey });
const s3Args = (): string[] => ['--s3-endpoint', s3Endpoint(), '--s3-path-style', '--s3-checksum', 'when-required'];

interface TestStore {
  url: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** Every object's key (and size, where cheap), sorted: what --dry-run must leave as it was. */
  objects(): Promise<string[]>;
}

async function localStore(): Promise<TestStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mqbak-retention-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return {
    url: dir,
    args: [],
    env: {},
    async objects() {
      const out: string[] = [];
      for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const full = path.join(e.parentPath, e.name);
        out.push(`${path.relative(dir, full)} ${(await stat(full)).size}`);
      }
      return out.sort();
    },
  };
}

async function s3Store(): Promise<TestStore> {
  const bucket = uniqueName('retention');
  await createBucket(bucket);
  return { url: `s3://${bucket}/nightly`, args: s3Args(), env: s3Env(), objects: async () => (await keysIn(s3Endpoint(), bucket, 'nightly/')).sort() };
}

const STORES: Array<[string, () => Promise<TestStore>]> = [
  ['a local folder', localStore],
  ['S3', s3Store],
];

function kafka(): Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('retention'), logLevel: logLevel.NOTHING });
}

async function produce(topic: string, from: number, n: number): Promise<void> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  try {
    await p.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ partition: 0, key: `k${from + i}`, value: `value ${from + i}` })) });
  } finally {
    await p.disconnect();
  }
}

/** Every record of a topic's partition 0 as "key=value", read with kafkajs. */
async function readTopic(topic: string, expected: number): Promise<string[]> {
  const consumer = kafka().consumer({ groupId: uniqueName('retention-read') });
  await consumer.connect();
  const out: string[] = [];
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read ${out.length} of ${expected} records of ${topic}`)), 30_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          out.push(`${message.key?.toString()}=${message.value?.toString()}`);
          if (out.length >= expected) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function ok(r: RunResult): RunResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return r;
}

async function mq(s: TestStore, args: string[]): Promise<RunResult> {
  return runMqbak([...args, ...s.args], { env: s.env });
}

async function backupId(s: TestStore, args: string[]): Promise<string> {
  const r = ok(await mq(s, ['backup', ...args, '--json']));
  return (JSON.parse(r.stdout) as { id: string }).id;
}

interface Plan {
  groups: Array<{ chainKey: string; keep: Array<{ id: string; reasons: string[] }>; remove: string[] }>;
  removed: string[];
}

describe.each(STORES)('forget and prune on %s', (_name, makeStore) => {
  it('every policy option plans per chain, --dry-run changes nothing, forget --prune removes exactly the rest', async () => {
    const s = await makeStore();
    const a = uniqueName('ret-a');
    const b = uniqueName('ret-b');
    await kafkaCreateTopic(a, 1);
    await kafkaCreateTopic(b, 1);
    const chainA: string[] = [];
    for (let i = 0; i < 4; i++) {
      await produce(a, i * 10, 10);
      chainA.push(await backupId(s, [kafkaUrl(), s.url, '--topics', a, '--segment-size', '1k']));
    }
    const chainB: string[] = [];
    for (let i = 0; i < 3; i++) {
      await produce(b, i * 10, 10);
      chainB.push(await backupId(s, [kafkaUrl(), s.url, '--topics', b, ...(i === 1 ? ['--full'] : [])]));
    }
    const list = JSON.parse(ok(await mq(s, ['list', s.url, '--json'])).stdout) as Array<{ id: string; kind: string }>;
    expect(list.map((x) => x.kind)).toEqual(['full', 'incremental', 'incremental', 'incremental', 'full', 'full', 'incremental']);
    const catBefore = ok(await mq(s, ['cat', s.url, chainA[3]!])).stdout;
    const objectsBefore = await s.objects();

    const plan = async (...policy: string[]): Promise<Plan> => JSON.parse(ok(await mq(s, ['forget', s.url, ...policy, '--dry-run', '--json'])).stdout) as Plan;
    const kept = (p: Plan) => p.groups.flatMap((g) => g.keep.map((k) => k.id)).sort();
    const everyA = [...chainA].sort();
    // every backup was made within the same hour, day, week, month and year
    for (const policy of [['--keep-last', '1'], ['--keep-hourly', '1'], ['--keep-daily', '1'], ['--keep-weekly', '1'], ['--keep-monthly', '1'], ['--keep-yearly', '1']]) {
      const p = await plan(...policy);
      // chain A's newest needs its whole chain; group B keeps its newest chain only
      expect(kept(p)).toEqual([...everyA, chainB[1]!, chainB[2]!].sort());
      expect(p.groups.flatMap((g) => g.remove)).toEqual([chainB[0]!]);
    }
    expect(kept(await plan('--keep-within', '1h'))).toEqual([...everyA, ...chainB].sort());
    const byId = await plan('--keep-id', chainA[1]!);
    expect(kept(byId)).toEqual([chainA[0]!, chainA[1]!].sort());
    expect(byId.groups.flatMap((g) => g.remove).sort()).toEqual([chainA[2]!, chainA[3]!, ...chainB].sort());
    const text = ok(await mq(s, ['forget', s.url, '--keep-last', '1', '--dry-run']));
    expect(text.stdout).toContain(`  keep    ${chainA[0]}  ancestor of ${chainA[3]}\n`);
    expect(text.stdout).toContain(`  remove  ${chainB[0]}\n`);
    expect(text.stdout).toMatch(/would forget 1 backup \(dry run: nothing changed\)/);
    expect(await s.objects()).toEqual(objectsBefore);

    const noPolicy = await mq(s, ['forget', s.url]);
    expect(noPolicy.code).toBe(2);
    expect(noPolicy.stderr).toMatch(/^mqbak: error: forget needs a policy/m);

    const r = ok(await mq(s, ['forget', s.url, '--keep-last', '1', '--prune', '--json']));
    const done = JSON.parse(r.stdout) as Plan & { prune: { deleted: number } };
    expect(done.removed).toEqual([chainB[0]!]);
    expect(done.prune.deleted).toBeGreaterThan(0);
    const after = await s.objects();
    expect(after.some((k) => k.includes(chainB[0]!))).toBe(false);
    expect(after.filter((k) => k.includes(chainA[0]!)).length).toBeGreaterThan(1);
    ok(await mq(s, ['verify', s.url]));
    expect(ok(await mq(s, ['cat', s.url, chainA[3]!])).stdout).toBe(catBefore);

    // the kept chain restores record for record
    const target = uniqueName('ret-restored');
    ok(await mq(s, ['restore', s.url, kafkaUrl(), '--backup', chainA[3]!, '--map', `${a}=${target}`]));
    expect(await readTopic(target, 40)).toEqual(Array.from({ length: 40 }, (_, i) => `k${i}=value ${i}`));
  }, 180_000);
});

describe('retention on a local folder', () => {
  it('a RabbitMQ drain chain: keep-last 1 keeps the whole chain; after a --full backup the old chain goes whole', async () => {
    const s = await localStore();
    const vhost = uniqueName('retention');
    await createVhost(vhost);
    cleanups.push(() => deleteVhost(vhost));
    const url = rabbitUrl(vhost);
    const conn = await connectRabbit(url);
    cleanups.push(() => conn.close());
    const ch = await conn.model.createConfirmChannel();
    await ch.assertQueue('jobs', { durable: true });
    const env = { MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl() };
    const drain = async (n: number, full = false): Promise<string[]> => {
      for (let i = 0; i < n; i++) ch.sendToQueue('jobs', Buffer.from(`job ${i}`), { persistent: true });
      await ch.waitForConfirms();
      const r = ok(await runMqbak(['backup', url, s.url, '--queues', 'jobs', '--mode', 'drain', '--json', ...(full ? ['--full'] : [])], { env }));
      return (JSON.parse(r.stdout) as { backups: string[] }).backups;
    };
    const first = [...(await drain(5)), ...(await drain(5)), ...(await drain(5))];
    expect(first).toHaveLength(3);
    const none = JSON.parse(ok(await runMqbak(['forget', s.url, '--keep-last', '1', '--json'])).stdout) as Plan;
    expect(none.removed).toEqual([]);
    const second = await drain(4, true);
    const catSecond = ok(await runMqbak(['cat', s.url, second[0]!])).stdout;
    const r = JSON.parse(ok(await runMqbak(['forget', s.url, '--keep-last', '1', '--prune', '--json'])).stdout) as Plan;
    expect(r.removed.sort()).toEqual([...first].sort());
    expect((await s.objects()).some((k) => first.some((id) => k.includes(id)))).toBe(false);
    ok(await runMqbak(['verify', s.url]));
    expect(ok(await runMqbak(['cat', s.url, second[0]!])).stdout).toBe(catSecond);
  }, 120_000);

  it('prune killed with SIGKILL at several points: verify passes after each, and a last prune finishes the work', async () => {
    const s = await localStore();
    const topic = uniqueName('ret-kill');
    await kafkaCreateTopic(topic, 1);
    for (let i = 0; i < 3; i++) {
      await produce(topic, i * 3000, 3000);
      ok(await runMqbak(['backup', kafkaUrl(), s.url, '--topics', topic, '--full', '--segment-size', '1k']));
    }
    ok(await runMqbak(['forget', s.url, '--keep-last', '1']));
    await new Promise((r) => setTimeout(r, 1100)); // past --grace 1s
    const unreferenced = async () => {
      const v = JSON.parse((await runMqbak(['verify', s.url, '--json'])).stdout) as { ok: boolean; findings: Array<{ kind: string; severity: string }> };
      expect(v.findings.filter((f) => f.severity === 'error')).toEqual([]);
      expect(v.ok).toBe(true);
      return v.findings.filter((f) => f.kind === 'unreferenced-segment').length;
    };
    const start = await unreferenced();
    expect(start).toBeGreaterThan(100);
    const segmentFiles = async () => (await readdir(path.join(s.url, 'segments'), { recursive: true })).filter((f) => f.endsWith('.seg')).length;
    let left = start;
    for (let kill = 0; kill < 3; kill++) {
      const child = spawn(process.execPath, [MQBAK_BIN, 'prune', s.url, '--grace', '1s'], { env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
      // listened for from the start: a prune may also finish before the kill
      const closed = new Promise((r) => child.on('close', r));
      // killed once it has begun deleting: somewhere in the middle of its work
      const before = await segmentFiles();
      for (let i = 0; i < 2000 && (await segmentFiles()) === before; i++) await new Promise((r) => setTimeout(r, 5));
      child.kill('SIGKILL');
      await closed;
      const now = await unreferenced();
      expect(now).toBeLessThan(left);
      expect(now).toBeGreaterThan(0);
      left = now;
    }
    // the lock of a killed prune does not stop the next one (its process is gone)
    const last = ok(await runMqbak(['prune', s.url, '--grace', '1s']));
    expect(last.stdout).toMatch(/^deleted \d+ segments?, freed/m);
    expect(await unreferenced()).toBe(0);
  }, 120_000);

  it('a backup running while prune runs is not harmed', async () => {
    const s = await localStore();
    const topic = uniqueName('ret-busy');
    await kafkaCreateTopic(topic, 1);
    await produce(topic, 0, 5_000);
    const child = spawn(process.execPath, [MQBAK_BIN, 'backup', kafkaUrl(), s.url, '--topics', topic, '--segment-size', '4k'], { env: { ...process.env, CI: 'true' }, stdio: 'ignore' });
    const finished = new Promise<number | null>((r) => child.on('close', r));
    let running = true;
    void finished.then(() => (running = false));
    let prunes = 0;
    while (running) {
      // the backup waits for the lock of a prune (--lock-wait, default 1m); these prunes do not wait for the backup's
      const p = await runMqbak(['prune', s.url, '--lock-wait', '0']);
      // refused because the backup holds its lock (exit 5), or run and found nothing old enough
      expect([0, 5]).toContain(p.code);
      prunes++;
    }
    expect(await finished).toBe(0);
    expect(prunes).toBeGreaterThan(0);
    ok(await runMqbak(['verify', s.url]));
    const cat = ok(await runMqbak(['cat', s.url, JSON.parse(ok(await runMqbak(['list', s.url, '--json'])).stdout)[0].id]));
    expect(cat.stdout.trimEnd().split('\n')).toHaveLength(5_000);
  }, 120_000);
});

describe('backup and retention together', () => {
  it('--full-every 2 starts a new chain every second backup; the old chain can then be forgotten whole', async () => {
    const s = await localStore();
    const topic = uniqueName('ret-every');
    await kafkaCreateTopic(topic, 1);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      await produce(topic, i * 10, 10);
      ids.push(await backupId(s, [kafkaUrl(), s.url, '--topics', topic, '--full-every', '2']));
    }
    const list = JSON.parse(ok(await runMqbak(['list', s.url, '--json'])).stdout) as Array<{ id: string; kind: string; parent: string | null }>;
    expect(list.map((b) => b.kind)).toEqual(['full', 'incremental', 'full', 'incremental', 'full']);
    const r = JSON.parse(ok(await runMqbak(['forget', s.url, '--keep-last', '2', '--prune', '--json'])).stdout) as Plan;
    expect(r.removed.sort()).toEqual([ids[0]!, ids[1]!].sort());
    ok(await runMqbak(['verify', s.url]));
    const bad = await runMqbak(['backup', kafkaUrl(), s.url, '--topics', topic, '--full-every', 'weekly']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^mqbak: error: --full-every "weekly": expected a duration/m);
  }, 120_000);

  it('a backup refuses, before reading anything, a store that a forget or prune holds; a lock of a dead process does not count', async () => {
    const s = await localStore();
    const topic = uniqueName('ret-locked');
    await kafkaCreateTopic(topic, 1);
    await produce(topic, 0, 10);
    const { writeFile, mkdir } = await import('node:fs/promises');
    await mkdir(path.join(s.url, 'locks'), { recursive: true });
    const at = new Date().toISOString();
    const lock = path.join(s.url, 'locks', 'held-by-prune.json');
    await writeFile(lock, JSON.stringify({ kind: 'exclusive', command: 'prune', host: 'ops-host-2', pid: 4242, createdAt: at, refreshedAt: at }));
    const r = await runMqbak(['backup', kafkaUrl(), s.url, '--topics', topic, '--lock-wait', '2s']);
    expect(r.code).toBe(5);
    // it waited for the lock, saying so once, then refused
    expect(r.stderr.match(/waiting up to 2 s for an exclusive lock of mqbak prune on ops-host-2/g)).toHaveLength(1);
    expect(r.stderr).toMatch(/^mqbak: error: .*is locked: an exclusive lock of mqbak prune on ops-host-2 \(pid 4242\)/m);
    expect(r.stderr).toMatch(/^hint: /m);
    expect(await s.objects()).toEqual(['locks/held-by-prune.json ' + String((await stat(lock)).size)]);
    // the same lock, from a process of this host that no longer runs
    const { hostname } = await import('node:os');
    await writeFile(lock, JSON.stringify({ kind: 'exclusive', command: 'prune', host: hostname(), pid: 2 ** 22 + 12345, createdAt: at, refreshedAt: at }));
    ok(await runMqbak(['backup', kafkaUrl(), s.url, '--topics', topic]));
    ok(await runMqbak(['unlock', s.url]));
    expect((await s.objects()).some((k) => k.startsWith('locks/'))).toBe(false);
  }, 60_000);
});
