/**
 * restore --repartition through the mqbak binary against the Kafka test broker: a 3-partition
 * topic of keyed and keyless records restored into 5 and into 2 partitions, every record where
 * kafkajs' DefaultPartitioner puts its key (keyless: source partition modulo the count), order and
 * bytes kept, the offset map exact, through either producer; the refusals (group translation,
 * --check, a --partitions mismatch, other targets) before anything is published; a repartitioned
 * restore SIGKILLed and rerun, also while a target partition's high watermark lags its log.
 */
import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Partitioners, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { produceBatches, startMqbak, until, urlOf, watermarks, type Running } from '../helpers/kafka-faults.js';
import { readTopic } from '../helpers/kafka-records.js';
import { highs, kafka, readAll, url, useTempDirs, type Seen } from '../helpers/kafka-e2e.js';
import { MQBAK_BIN, runMqbak } from '../helpers/run-mqbak.js';

const tempDir = useTempDirs();

/** kafkajs' default partitioner's choice for a record with this key (hex) among `count` partitions. */
function defaultPartition(keyHex: string, count: number): number {
  const partitionMetadata = Array.from({ length: count }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return Partitioners.DefaultPartitioner()({ topic: 't', partitionMetadata, message: { key: Buffer.from(keyHex, 'hex'), value: null } });
}

/** Keys of every kind: UTF-8, binary, empty; each lives in one source partition (its index mod 3). */
const KEYS: Buffer[] = [
  Buffer.alloc(0),
  Buffer.from('order-1'),
  Buffer.from('ключ'),
  Buffer.from('clé-🔑'),
  Buffer.from([0, 255, 128, 10]),
  Buffer.from([0x80]),
  ...Array.from({ length: 24 }, (_, i) => Buffer.from(`customer-${i * 7919}`)),
];

/** n records over 3 partitions: every fourth keyless, values unique, some headers and null values. */
async function produceMixed(topic: string, n: number): Promise<void> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  for (let s = 0; s < n; s += 2000) {
    const messages = [];
    for (let i = s; i < Math.min(n, s + 2000); i++) {
      const k = i % 4 === 0 ? null : i % KEYS.length;
      messages.push({
        partition: k === null ? i % 3 : k % 3,
        key: k === null ? null : KEYS[k]!,
        value: i % 11 === 0 ? null : Buffer.from(`value ${i} \u00ff`),
        headers: i % 3 === 0 ? { h: [Buffer.from([1, 2]), Buffer.from('second')], other: Buffer.alloc(0) } : {},
        timestamp: String(1_700_000_000_000 + i),
      });
    }
    await p.send({ topic, acks: -1, messages });
  }
  await p.disconnect();
}

const body = ({ partition: _p, offset: _o, ...rest }: Seen) => rest;

/**
 * The target holds each source record exactly once, in the partition the default partitioner
 * chooses (keyless: source partition mod count), source order kept within each target partition
 * (so per key), bytes identical; the offset map sends every source offset to where it really is.
 */
function expectRepartitioned(source: Seen[], target: Seen[], count: number, map: Array<Record<string, unknown>> | null): void {
  expect(target).toHaveLength(source.length);
  const at = new Map(target.map((r) => [`${r.partition}/${r.offset}`, r]));
  const byValue = new Map<string, Seen>();
  for (const r of target) byValue.set(JSON.stringify(body(r)), r);
  // every value differs (or a null value has its own timestamp): a record is found by its body
  expect(byValue.size).toBe(target.length);
  const lastTargetOffset = new Map<string, bigint>();
  for (const s of source) {
    const t = byValue.get(JSON.stringify(body(s)));
    expect(t, `source ${s.partition}/${s.offset}`).toBeDefined();
    expect(t!.partition).toBe(s.key === null ? s.partition % count : defaultPartition(s.key, count));
    // source order kept within a target partition, per source partition
    const lane = `${s.partition}->${t!.partition}`;
    const prev = lastTargetOffset.get(lane);
    if (prev !== undefined) expect(BigInt(t!.offset)).toBeGreaterThan(prev);
    lastTargetOffset.set(lane, BigInt(t!.offset));
  }
  if (map === null) return;
  const mapped = new Map<string, string>();
  for (const run of map) {
    const src = run.source as { partition: number };
    const dst = run.target as { partition: number };
    for (let o = BigInt(run.sourceStart as string); o <= BigInt(run.sourceEnd as string); o++) {
      const key = `${src.partition}/${o}`;
      expect(mapped.has(key), `${key} mapped twice`).toBe(false);
      mapped.set(key, `${dst.partition}/${BigInt(run.targetStart as string) + o - BigInt(run.sourceStart as string)}`);
    }
  }
  expect(mapped.size).toBe(source.length);
  for (const s of source) {
    const where = mapped.get(`${s.partition}/${s.offset}`);
    expect(where, `source ${s.partition}/${s.offset} not in the map`).toBeDefined();
    expect(body(at.get(where!)!)).toEqual(body(s));
  }
}

/** Records on the target topic's partitions, 0 while it does not exist (through `admin`, or a client of its own). */
async function onTarget(topic: string, admin?: Admin): Promise<number> {
  const a = admin ?? kafka().admin();
  if (!admin) await a.connect();
  try {
    if (!(await a.listTopics()).includes(topic)) return 0;
    return (await a.fetchTopicOffsets(topic)).reduce((total, o) => total + Number(o.high), 0);
  } finally {
    if (!admin) await a.disconnect();
  }
}

/** The rerun of an interrupted restore: exit 0, resumed, `already` records counted as the interrupted run's, n in all. */
function expectResumed(r: { code: number | null; stdout: string; stderr: string }, already: number, n: number): void {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(0);
  const j = JSON.parse(r.stdout);
  expect(j).toMatchObject({ resumed: true, alreadyRestored: already, records: n - already });
}

/** mqbak started as a child, once it has begun writing (or ended). */
async function restoring(args: string[], env: NodeJS.ProcessEnv): Promise<Running> {
  const run = startMqbak(args, env);
  expect(await until(() => !run.running() || /restoring \d+ /.test(run.stderr()), 30_000)).toBe(true);
  return run;
}

async function mapOf(file: string): Promise<Array<Record<string, unknown>>> {
  return (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('kafka restore --repartition', () => {
  it('a 3-partition topic into 5 and into 2 partitions: each record where its key says, order, bytes and offset map exact', async () => {
    const dir = await tempDir();
    const topic = uniqueName('rep');
    await kafkaCreateTopic(topic, 3);
    await produceMixed(topic, 600);
    expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
    const source = await readAll(topic);
    expect(source).toHaveLength(600);
    for (const count of [5, 2]) {
      const target = `${topic}-${count}`;
      const mapFile = path.join(dir, `map-${count}.jsonl`);
      const dry = await runMqbak(['restore', dir, url(), '--repartition', '--partitions', String(count), '--map', `${topic}=${target}`, '--dry-run'], { env: { XDG_STATE_HOME: dir } });
      expect(dry.code, dry.stderr).toBe(0);
      expect(dry.stdout).toContain(`target topic ${target}: ${count} partitions`);
      const r = await runMqbak(['restore', dir, url(), '--repartition', '--partitions', String(count), '--map', `${topic}=${target}`, '--offset-map', mapFile, '--json'], {
        env: { XDG_STATE_HOME: dir },
      });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.records).toBe(600);
      expect(j.topics).toEqual({ [target]: 600 });
      expect(await highs(target)).toHaveLength(count);
      const restored = await readAll(target);
      expectRepartitioned(source, restored, count, await mapOf(mapFile));
      // every target partition got records: keys are spread
      expect(new Set(restored.map((x) => x.partition)).size).toBe(count);
    }
    // through kafkajs' producer (MQBAK_KAFKA_PRODUCER=kafkajs) the records land in the same places
    const viaKafkajs = `${topic}-kjs`;
    const k = await runMqbak(['restore', dir, url(), '--repartition', '--partitions', '5', '--map', `${topic}=${viaKafkajs}`], { env: { XDG_STATE_HOME: dir, MQBAK_KAFKA_PRODUCER: 'kafkajs' } });
    expect(k.code, k.stderr).toBe(0);
    expectRepartitioned(source, await readAll(viaKafkajs), 5, null);
  }, 120_000);

  it('refuses group translation with --repartition (exit 2, before connecting) and --partitions without it', async () => {
    const dir = await tempDir();
    const nowhere = 'kafka://127.0.0.1:1';
    for (const extra of [['--groups', 'g1'], ['--all-groups']]) {
      const r = await runMqbak(['restore', dir, nowhere, '--repartition', ...extra], { env: { XDG_STATE_HOME: dir } });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^mqbak: error: --repartition cannot translate consumer group offsets/m);
      expect(r.stderr).toMatch(/hint: /);
      expect(r.stderr).not.toMatch(/connect|ECONNREFUSED/i);
    }
    const p = await runMqbak(['restore', dir, nowhere, '--partitions', '4'], { env: { XDG_STATE_HOME: dir } });
    expect(p.code).toBe(2);
    expect(p.stderr).toMatch(/--partitions needs --repartition/);
    const zero = await runMqbak(['restore', dir, nowhere, '--repartition', '--partitions', '0'], { env: { XDG_STATE_HOME: dir } });
    expect(zero.code).toBe(2);
    const rabbit = await runMqbak(['restore', dir, 'amqp://guest:guest@127.0.0.1:1/', '--repartition'], { env: { XDG_STATE_HOME: dir } });
    expect(rabbit.code).toBe(2);
    expect(rabbit.stderr).toMatch(/--repartition is an option of Kafka, not of RabbitMQ targets/);
    expect(rabbit.stderr).toMatch(/hint: /);
  });

  it('an existing target with another count than --partitions: exit 2, nothing published; without --partitions its own count is used', async () => {
    const dir = await tempDir();
    const topic = uniqueName('repx');
    await kafkaCreateTopic(topic, 3);
    await produceMixed(topic, 90);
    expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
    // --check cannot read a repartitioned restore back: refused before anything is created
    const checked = await runMqbak(['restore', dir, url(), '--repartition', '--check', '--map', `${topic}=${topic}-c`], { env: { XDG_STATE_HOME: dir } });
    expect(checked.code, checked.stderr).toBe(2);
    expect(checked.stderr).toMatch(/error: --check cannot read back a restore with --repartition/);
    expect(await onTarget(`${topic}-c`)).toBe(0);
    const target = `${topic}-4`;
    await kafkaCreateTopic(target, 4);
    const r = await runMqbak(['restore', dir, url(), '--repartition', '--partitions', '5', '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`error: target topic ${target} exists with 4 partitions, not 5 \\(--partitions\\)`));
    expect(r.stderr).toMatch(/hint: leave --partitions out/);
    expect(await highs(target)).toEqual([0n, 0n, 0n, 0n]);
    // the same restore without --partitions spreads the records over the target's 4
    const ok = await runMqbak(['restore', dir, url(), '--repartition', '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } });
    expect(ok.code, ok.stderr).toBe(0);
    expectRepartitioned(await readAll(topic), await readAll(target), 4, null);
    // run again: the target holds data now, refused as any restore is
    const again = await runMqbak(['restore', dir, url(), '--repartition', '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } });
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already holds data/);
  });

  it('a repartitioned restore killed with SIGKILL halfway, then rerun: resumed, no duplicates, nothing lost, offset map exact', async () => {
    const dir = await tempDir();
    const topic = uniqueName('repk');
    await kafkaCreateTopic(topic, 3);
    // enough records that the restore is still running when the poll below sees it past the first
    // source partition, on a quiet machine too (60,000 were all restored between two polls there)
    const n = 150_000;
    await produceMixed(topic, n);
    expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
    const target = `${topic}-5`;
    const mapFile = path.join(dir, 'map.jsonl');
    const args = ['restore', dir, url(), '--repartition', '--partitions', '5', '--map', `${topic}=${target}`, '--offset-map', mapFile, '--json'];
    const child = spawn(process.execPath, [MQBAK_BIN, ...args], { env: { ...process.env, CI: 'true', XDG_STATE_HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    const stderr: string[] = [];
    child.stderr.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
    // killed past the first source partition, into the second: the resume spans both
    const killAt = n / 3 + 2000;
    const admin = kafka().admin();
    await admin.connect();
    try {
      for (const giveUp = Date.now() + 60_000; child.exitCode === null && Date.now() < giveUp; await sleep(10)) {
        if ((await onTarget(target, admin)) >= killAt) break;
      }
    } finally {
      child.kill('SIGKILL');
      await admin.disconnect();
    }
    await new Promise((r) => child.once('close', r));
    const afterKill = await onTarget(target);
    const err = stderr.join('');
    expect(afterKill, err).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(n);
    expectResumed(await runMqbak(args, { env: { XDG_STATE_HOME: dir } }), afterKill, n);
    expect((await highs(target)).reduce((s, h) => s + h, 0n)).toBe(BigInt(n));
    expectRepartitioned(await readAll(topic), await readAll(target), 5, await mapOf(mapFile));
  }, 240_000);
});

describe('kafka restore --repartition resumed under a lagging high watermark', () => {
  let mock: KafkaMock;
  beforeAll(async () => {
    mock = await startKafkaMock({ brokers: 1 });
  });
  afterAll(async () => {
    await mock?.stop();
  });

  it('SIGKILL while one target partition stores batches past its high watermark, rerun: exact, nothing twice', async () => {
    const dir = await tempDir();
    const env = { XDG_STATE_HOME: dir };
    const topic = uniqueName('replag');
    await mock.send(`create ${topic} 1`);
    // 120,000 keyed records of about 250 bytes, spread by the restore over 3 partitions: about
    // 10 requests of 1 MB each, 250 ms apart
    const n = 120_000;
    await produceBatches(mock, topic, 1, 60, 2000, 200);
    const b = await runMqbak(['backup', urlOf(mock), dir, '--topics', topic], { env });
    expect(b.code, b.stderr).toBe(0);
    const target = `${topic}-3`;
    const args = ['restore', dir, urlOf(mock), '--repartition', '--partitions', '3', '--map', `${topic}=${target}`, '--json'];
    await mock.send('rtt -1 250');
    let held = 0n;
    let counted = 0n;
    try {
      const first = await restoring(args, env);
      for (let i = 0; i < 200 && first.running(); i++) {
        held = (await watermarks(mock, target))[0]!.high;
        if (held >= 3_000n) break;
        await sleep(50);
      }
      expect(first.running(), first.stderr()).toBe(true);
      await mock.send(`leader_hwm ${target} 0 1 ${held}`);
      await sleep(700); // more batches stored past it
      expect(first.running(), 'the first run ended before it was killed').toBe(true);
      first.kill('SIGKILL');
      await first.done;
      const ends = await watermarks(mock, target);
      expect(ends[0]!.high).toBe(held);
      counted = ends.reduce((total, e) => total + e.high, 0n);
      expect(counted).toBeLessThan(BigInt(n));
      // the rerun counts from the held high watermark; released once it has
      const rerun = await restoring(args, env);
      await mock.send(`leader_hwm ${target} 0 1 -1`);
      expectResumed(await rerun.done, Number(counted), n);
    } finally {
      await mock.send('rtt -1 0');
      await mock.command(`leader_hwm ${target} 0 1 -1`);
    }
    expect((await watermarks(mock, target)).reduce((total, e) => total + e.high, 0n)).toBe(BigInt(n));
    expectRepartitioned(await readTopic(mock.brokers, topic), await readTopic(mock.brokers, target), 3, null);
  }, 180_000);
});
