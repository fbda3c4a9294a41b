/**
 * Kafka backup and restore through the mqbak binary while the cluster fails (issue 19): a
 * 3-broker mock cluster of this file's own (startKafkaMock), whose partition leaders move, whose
 * brokers go down and come back, and whose answers carry injected errors. Each run must finish
 * exact: the restored topic holds the source's records, in order, once.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/brokers.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { readTopic, strip } from '../helpers/kafka-records.js';
import { MQBAK_BIN, runMqbak, type RunResult } from '../helpers/run-mqbak.js';

let mock: KafkaMock;
const dirs: string[] = [];

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});
afterAll(async () => {
  await mock?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
// whatever a test left behind must not fail the next one
afterEach(async () => {
  await mock.send('broker_up -1');
  await mock.send('rtt -1 0');
  for (const api of ['Fetch', 'Produce', 'ListOffsets', 'Metadata', 'InitProducerId']) await mock.send(`clear_errors ${api}`);
  // per-broker queues (slowProduce) cannot be cleared: a new cluster then
  for (const b of [1, 2, 3]) {
    if ((await mock.send(`pending_errors ${b} Produce`)) !== '0') {
      await mock.stop();
      mock = await startKafkaMock({ brokers: 3 });
      return;
    }
  }
});

/** The next `count` Produce requests to each broker are answered after `ms` (and succeed). */
async function slowProduce(ms: number, count: number): Promise<void> {
  for (const b of [1, 2, 3]) await mock.send(`broker_errors ${b} Produce ${count} 0 ${ms}`);
}

async function tempDir(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mqbak-kafka-faults-'));
  dirs.push(d);
  return d;
}
const url = (): string => `kafka://${mock.brokers.join(',')}`;
const kafka = (): Kafka => new Kafka({ brokers: mock.brokers, clientId: uniqueName('faults-e2e'), logLevel: logLevel.NOTHING });

/** A topic with one partition led by each broker (partition p by broker p + 1). */
async function spreadTopic(prefix: string): Promise<string> {
  const topic = uniqueName(prefix);
  await mock.send(`create ${topic} 3`);
  for (const p of [0, 1, 2]) await mock.send(`leader ${topic} ${p} ${p + 1}`);
  return topic;
}

/**
 * `batches` record batches of `perBatch` records on each of the 3 partitions, values of
 * `valueBytes`. The mock answers a Fetch with one batch, so a backup makes a request per batch.
 */
async function fill(topic: string, batches: number, perBatch: number, valueBytes: number): Promise<number> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  let n = 0;
  try {
    for (let b = 0; b < batches; b++) {
      const messages = [];
      for (const partition of [0, 1, 2]) {
        for (let i = 0; i < perBatch; i++, n++) {
          messages.push({ partition, key: `k${n}`, value: `${n}:`.padEnd(valueBytes, 'x'), headers: n % 3 === 0 ? { h: `${n}` } : {} });
        }
      }
      await p.send({ topic, acks: -1, messages });
    }
  } finally {
    await p.disconnect();
  }
  return n;
}

interface Running {
  done: Promise<RunResult>;
  finished: () => boolean;
  kill: () => void;
}

/** Starts mqbak without waiting for it. */
function startMqbak(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 150_000): Running {
  let over = false;
  let kill = (): void => undefined;
  const done = new Promise<RunResult>((resolve, reject) => {
    const child = spawn(process.execPath, [MQBAK_BIN, ...args], { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    kill = () => child.kill('SIGKILL');
    const timer = setTimeout(kill, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      over = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { done, finished: () => over, kill: () => kill() };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until the restore has written to `target` while still running (a fault then hits it mid-run). */
async function waitForFirstWrite(run: Running, target: string): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const written = await admin.fetchTopicOffsets(target).then(
        (o) => o.reduce((n, x) => n + Number(x.high), 0),
        () => 0,
      );
      if (written > 0 || run.finished() || Date.now() > deadline) break;
      await sleep(50);
    }
  } finally {
    await admin.disconnect();
  }
  if (run.finished()) {
    const r = await run.done;
    throw new Error(`the restore ended before the fault (make it slower): exit ${r.code}\n${r.stderr}`);
  }
}

function expectClean(r: RunResult, what: string): void {
  expect(r.stderr, what).not.toMatch(/\n\s+at /);
  expect(r.code, `${what}: ${r.stderr}`).toBe(0);
}

/** Backs up `topic` into a new store, checking the count; returns the store. */
async function backupExact(topic: string, records: number): Promise<string> {
  const dir = await tempDir();
  const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json'], { timeoutMs: 150_000 });
  expectClean(b, 'backup');
  expect(JSON.parse(b.stdout).records).toBe(records);
  return dir;
}

/** Restores the store into `${topic}-r` and checks it equals the source. */
async function restoreExact(dir: string, topic: string, records: number, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const target = `${topic}-r`;
  const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--json'], { env: { XDG_STATE_HOME: dir, ...env }, timeoutMs: 150_000 });
  expectClean(r, 'restore');
  expect(JSON.parse(r.stdout).records).toBe(records);
  await expectSameRecords(topic, target);
}

async function expectSameRecords(topic: string, target: string): Promise<void> {
  const [src, dst] = [await readTopic(mock.brokers, topic), await readTopic(mock.brokers, target)];
  expect(dst.length).toBe(src.length);
  expect(strip(dst)).toEqual(strip(src));
}

describe('kafka on a 3-broker cluster through the binary', () => {
  it('backup and restore with a partition led by each broker: exact', async () => {
    const topic = await spreadTopic('spread');
    const n = await fill(topic, 4, 25, 100);
    await restoreExact(await backupExact(topic, n), topic, n);
  });

  it('a backup during which every partition leader moves: finishes, exact', async () => {
    const topic = await spreadTopic('move-b');
    const n = await fill(topic, 150, 2, 100);
    await mock.send('rtt -1 20'); // about 150 fetches of 20 ms per partition: 3 s
    const dir = await tempDir();
    const run = startMqbak(['backup', url(), dir, '--topics', topic, '--json']);
    await sleep(1_000);
    expect(run.finished(), 'the backup ended before the leaders moved: make it slower').toBe(false);
    for (const p of [0, 1, 2]) await mock.send(`leader ${topic} ${p} ${((p + 1) % 3) + 1}`);
    const b = await run.done;
    expectClean(b, 'backup');
    expect(JSON.parse(b.stdout).records).toBe(n);
    await mock.send('rtt -1 0');
    await restoreExact(dir, topic, n);
  }, 180_000);

  it('a restore during which every target partition leader moves: finishes, exact', async () => {
    const topic = await spreadTopic('move-r');
    const n = await fill(topic, 100, 30, 1_000); // 3 MB a partition: 3 produce batches or more each
    const dir = await backupExact(topic, n);
    const target = `${topic}-r`;
    await mock.send(`create ${target} 3`);
    for (const p of [0, 1, 2]) await mock.send(`leader ${target} ${p} ${p + 1}`);
    await slowProduce(700, 20);
    const run = startMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--json'], { XDG_STATE_HOME: dir });
    await waitForFirstWrite(run, target);
    for (const p of [0, 1, 2]) await mock.send(`leader ${target} ${p} ${((p + 1) % 3) + 1}`);
    const r = await run.done;
    expectClean(r, 'restore');
    expect(JSON.parse(r.stdout).records).toBe(n);
    await expectSameRecords(topic, target);
  }, 180_000);

  /**
   * Broker 2, leader of partition 1, down for 3 s. Either the metadata keeps naming it leader (a
   * cluster that has not noticed yet: the mock never moves a leader by itself) or, as Kafka's
   * controller does for a partition with no other replica, names no leader (-1) until it is back.
   */
  const outage = async (topic: string, leaderless: boolean): Promise<void> => {
    await mock.send('broker_down 2');
    if (leaderless) await mock.send(`leader ${topic} 1 -1`);
    await sleep(3_000);
    await mock.send('broker_up 2');
    if (leaderless) await mock.send(`leader ${topic} 1 2`);
  };

  it.each([
    ['still named leader', false],
    ['leaderless meanwhile', true],
  ])('a restore during which the leader of a target partition is down for 3 s (%s): finishes, exact', async (_, leaderless) => {
    const topic = await spreadTopic('down-r');
    const n = await fill(topic, 100, 30, 1_000);
    const dir = await backupExact(topic, n);
    const target = `${topic}-r`;
    await mock.send(`create ${target} 3`);
    for (const p of [0, 1, 2]) await mock.send(`leader ${target} ${p} ${p + 1}`);
    await slowProduce(700, 20);
    const run = startMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--json'], { XDG_STATE_HOME: dir });
    await waitForFirstWrite(run, target);
    await outage(target, leaderless);
    const r = await run.done;
    expectClean(r, 'restore');
    expect(JSON.parse(r.stdout).records).toBe(n);
    await expectSameRecords(topic, target);
  }, 180_000);
});

describe('kafka with transient errors injected, through the binary', () => {
  it.each([
    ['Fetch', 'NOT_LEADER_OR_FOLLOWER'],
    ['Fetch', 'REQUEST_TIMED_OUT'],
    ['Metadata', 'LEADER_NOT_AVAILABLE'],
  ])('backup: 3 %s answers with %s are retried, the backup is exact', async (api, error) => {
    const topic = await spreadTopic('err-b');
    const n = await fill(topic, 3, 10, 50);
    await mock.send(`errors ${api} 3 ${error}`);
    const dir = await backupExact(topic, n);
    await mock.send(`clear_errors ${api}`);
    await restoreExact(dir, topic, n);
  });

  it.each([
    ['Produce', 'NOT_ENOUGH_REPLICAS'],
    ['Produce', 'NOT_LEADER_OR_FOLLOWER'],
    ['Produce', 'REQUEST_TIMED_OUT'],
    ['Metadata', 'LEADER_NOT_AVAILABLE'],
  ])('restore: 3 %s answers with %s are retried, the restore is exact', async (api, error) => {
    const topic = await spreadTopic('err-r');
    const n = await fill(topic, 3, 10, 50);
    const dir = await backupExact(topic, n);
    await mock.send(`errors ${api} 3 ${error}`);
    await restoreExact(dir, topic, n);
  });
});

describe('kafka with a persistent error, through the binary', () => {
  const errorText: Record<string, RegExp> = {
    NOT_LEADER_OR_FOLLOWER: /NOT_LEADER_OR_FOLLOWER|not the leader/i,
    LEADER_NOT_AVAILABLE: /LEADER_NOT_AVAILABLE|no leader|leadership election/i,
    NOT_ENOUGH_REPLICAS: /NOT_ENOUGH_REPLICAS|fewer in-sync replicas/i,
    COORDINATOR_LOAD_IN_PROGRESS: /COORDINATOR_LOAD_IN_PROGRESS|coordinator is loading/i,
  };
  /** exit 5 within 2 minutes, one error line naming the error (and the partition where there is one) */
  const expectGaveUp = (r: RunResult, ms: number, error: string, where: RegExp | undefined): void => {
    expect(r.signal, `mqbak was still running after ${ms} ms; stderr: ${r.stderr}`).toBe(null);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(/^mqbak: error: /m);
    expect(r.stderr).toMatch(errorText[error]!);
    if (where) expect(r.stderr).toMatch(where);
  };

  it.each([
    ['Fetch', 'NOT_LEADER_OR_FOLLOWER', true],
  ])('backup: %s always %s ends with exit 5 naming it, within 2 minutes', async (api, error, partition) => {
    const topic = await spreadTopic('stuck-b');
    await fill(topic, 2, 5, 50);
    await mock.send(`errors ${api} 100000 ${error}`);
    const dir = await tempDir();
    const t0 = Date.now();
    const b = await runMqbak(['backup', url(), dir, '--topics', topic], { timeoutMs: 120_000 });
    expectGaveUp(b, Date.now() - t0, error, new RegExp(partition ? `${topic}.*(partition|\\[|/)` : topic));
  }, 150_000);

  it.each([
    ['InitProducerId', 'COORDINATOR_LOAD_IN_PROGRESS', false],
  ])('restore: %s always %s ends with exit 5 naming it, within 2 minutes', async (api, error, partition) => {
    const topic = await spreadTopic('stuck-r');
    const n = await fill(topic, 2, 5, 50);
    const dir = await backupExact(topic, n);
    await mock.send(`errors ${api} 100000 ${error}`);
    const t0 = Date.now();
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${topic}-r`], { env: { XDG_STATE_HOME: dir }, timeoutMs: 120_000 });
    expectGaveUp(r, Date.now() - t0, error, partition ? new RegExp(`${topic}-r.*(partition|\\[|/)`) : undefined);
  }, 150_000);
});
