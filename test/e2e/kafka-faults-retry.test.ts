/**
 * Kafka backup and restore through the binary while the cluster misbehaves, on a 3-broker test
 * broker of this file's own (startKafkaMock): partition leaders moving mid-run, a leader's broker
 * down for seconds, transient errors injected on every request mqbak sends, and a persistent one
 * (exit 5 naming the partition and the error, within the bound docs/KAFKA.md states).
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { createSpread, produceBatches, readOffsetMap, sleep, startMqbak, until, urlOf, type Running } from '../helpers/kafka-faults.js';
import { readTopic } from '../helpers/kafka-records.js';
import { useTempDirs } from '../helpers/kafka-e2e.js';
import { runMqbak } from '../helpers/run-mqbak.js';

const tempDir = useTempDirs();
let mock: KafkaMock;

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 3 });
});
afterAll(async () => {
  await mock?.stop();
});

const PARTITIONS = 3;

/** Moves a partition's leader to the next broker every `everyMs` while the run lasts; how many moves it made. */
async function moveLeaders(run: Running, topic: string, everyMs: number): Promise<number> {
  let moves = 0;
  for (let i = 0; run.running(); i++) {
    await sleep(everyMs);
    const p = i % PARTITIONS;
    await mock.send(`leader ${topic} ${p} ${((p + 1 + Math.floor(i / PARTITIONS)) % 3) + 1}`);
    if (run.running()) moves++;
  }
  return moves;
}

/** Every partition's offsets 0..n-1 went one to one to the same partition of the target. */
function expectIdentityMap(lines: Awaited<ReturnType<typeof readOffsetMap>>, topic: string, target: string, perPartition: number): void {
  expect(lines.sort((a, b) => a.source.partition - b.source.partition)).toEqual(
    Array.from({ length: PARTITIONS }, (_, p) => ({
      stream: `kafka/${topic}/${p}`,
      source: { topic, partition: p },
      target: { topic: target, partition: p },
      sourceStart: '0',
      sourceEnd: String(perPartition - 1),
      targetStart: '0',
    })),
  );
}

/** Backs up `topic`, disturbed by `disturb` while it runs, then restores it into `<topic>-r`, disturbed the same way. */
async function roundTripUnder(topic: string, perPartition: number, disturb: (run: Running, phase: 'backup' | 'restore') => Promise<number>): Promise<void> {
  const dir = await tempDir();
  const env = { XDG_STATE_HOME: dir };
  // slow answers: the runs last long enough for the disturbances to land in the middle
  await mock.send('rtt -1 25');
  try {
    const backup = startMqbak(['backup', urlOf(mock), dir, '--topics', topic, '--json'], env);
    const bMoves = await disturb(backup, 'backup');
    const b = await backup.done;
    expect(b.stderr).not.toMatch(/\n\s+at /);
    expect(b.code, b.stderr).toBe(0);
    expect(bMoves, 'disturbances while the backup ran').toBeGreaterThan(0);
    expect(JSON.parse(b.stdout).records).toBe(perPartition * PARTITIONS);

    await mock.send('rtt -1 150');
    const target = `${topic}-r`;
    const mapFile = path.join(dir, 'map.jsonl');
    const restore = startMqbak(['restore', dir, urlOf(mock), '--map', `${topic}=${target}`, '--offset-map', mapFile, '--json'], env);
    const rMoves = await disturb(restore, 'restore');
    const r = await restore.done;
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code, r.stderr).toBe(0);
    expect(rMoves, 'disturbances while the restore ran').toBeGreaterThan(0);
    await mock.send('rtt -1 0');
    // byte-identical, offsets included (an empty target starts at 0 as the source did)
    const src = await readTopic(mock.brokers, topic);
    expect(src).toHaveLength(perPartition * PARTITIONS);
    expect(await readTopic(mock.brokers, target)).toEqual(src);
    expectIdentityMap(await readOffsetMap(mapFile), topic, target, perPartition);
  } finally {
    await mock.send('rtt -1 0');
  }
}

describe('kafka on a 3-broker cluster whose leaders move', () => {
  it('backup and restore while partition leaders move every 150 ms: both finish, exact', async () => {
    const topic = await createSpread(mock, 'moving', PARTITIONS);
    // 80 batches per partition (a fetch each); 3 MB per partition (several produce requests each)
    await produceBatches(mock, topic, PARTITIONS, 80, 25, 1500);
    await roundTripUnder(topic, 80 * 25, (run) => moveLeaders(run, topic, 150));
  }, 180_000);

  it("backup and restore while a partition leader's broker is down for 3 s and comes back: both finish, exact", async () => {
    const topic = await createSpread(mock, 'down', PARTITIONS);
    await produceBatches(mock, topic, PARTITIONS, 80, 25, 1500);
    // partition 1 is led by broker 2, which goes away and comes back; the leader does not move
    await roundTripUnder(topic, 80 * 25, async (run, phase) => {
      const started = await until(() => !run.running() || (phase === 'backup' ? /backing up/ : /restoring \d+ /).test(run.stderr()), 30_000);
      if (!started || !run.running()) return 0;
      await sleep(300);
      await mock.send('broker_down 2');
      const downWhileRunning = run.running() ? 1 : 0;
      await sleep(3_000);
      await mock.send('broker_up 2');
      return downWhileRunning;
    });
  }, 180_000);
});

/** Backs up `topic` and restores it into `<topic>-r`, each after `before(phase)` queued its errors. */
async function roundTripAfter(topic: string, perPartition: number, before: (phase: 'backup' | 'restore', target: string) => Promise<void>): Promise<void> {
  const dir = await tempDir();
  const env = { XDG_STATE_HOME: dir };
  const target = `${topic}-r`;
  await before('backup', target);
  const b = await runMqbak(['backup', urlOf(mock), dir, '--topics', topic, '--json'], { env });
  expect(b.stderr).not.toMatch(/\n\s+at /);
  expect(b.code, b.stderr).toBe(0);
  expect(JSON.parse(b.stdout).records).toBe(perPartition * PARTITIONS);
  await before('restore', target);
  const mapFile = path.join(dir, 'map.jsonl');
  const r = await runMqbak(['restore', dir, urlOf(mock), '--map', `${topic}=${target}`, '--offset-map', mapFile, '--json'], { env });
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(0);
  const src = await readTopic(mock.brokers, topic);
  expect(await readTopic(mock.brokers, target)).toEqual(src);
  expectIdentityMap(await readOffsetMap(mapFile), topic, target, perPartition);
}

const APIS = ['Fetch', 'Produce', 'ListOffsets', 'Metadata', 'InitProducerId'];

describe('kafka under injected broker errors', () => {
  it('transient errors on Fetch, Produce, ListOffsets, Metadata and InitProducerId are retried: both finish, exact', async () => {
    const topic = await createSpread(mock, 'transient', PARTITIONS);
    await produceBatches(mock, topic, PARTITIONS, 20, 50, 200);
    try {
      await roundTripAfter(topic, 20 * 50, async (phase, target) => {
        await mock.send('errors Metadata 2 LEADER_NOT_AVAILABLE');
        await mock.send('errors ListOffsets 2 NOT_LEADER_OR_FOLLOWER');
        if (phase === 'backup') {
          await mock.send('errors Fetch 2 REQUEST_TIMED_OUT');
          await mock.send('errors Fetch 1 TRANSPORT');
          await mock.send('errors Fetch 2 NOT_LEADER_OR_FOLLOWER');
          await mock.send(`partition_errors ${topic} 1 Fetch 3 NOT_LEADER_OR_FOLLOWER`);
          await mock.send(`partition_errors ${topic} 2 Fetch 2 LEADER_NOT_AVAILABLE`);
        } else {
          // the target exists (empty) so that errors can be queued on its partitions
          await mock.send(`create ${target} ${PARTITIONS} 3`);
          await mock.send('errors InitProducerId 2 REQUEST_TIMED_OUT');
          await mock.send('errors Produce 2 NOT_ENOUGH_REPLICAS');
          await mock.send('errors Produce 1 TRANSPORT');
          await mock.send('errors Produce 1 REQUEST_TIMED_OUT');
          await mock.send(`partition_errors ${target} 0 Produce 3 NOT_LEADER_OR_FOLLOWER`);
          await mock.send(`partition_errors ${target} 2 Produce 2 NOT_ENOUGH_REPLICAS`);
        }
      });
    } finally {
      for (const api of APIS) await mock.send(`clear_errors ${api}`);
    }
  }, 180_000);

  it('a persistent error on one partition ends the backup with exit 5 naming the partition and the error, within the documented bound', async () => {
    const topic = await createSpread(mock, 'stuck-read', PARTITIONS);
    await produceBatches(mock, topic, PARTITIONS, 5, 10, 100);
    await mock.send(`partition_errors ${topic} 1 Fetch 80 NOT_LEADER_OR_FOLLOWER`);
    const dir = await tempDir();
    const t0 = Date.now();
    const b = await runMqbak(['backup', urlOf(mock), dir, '--topics', topic], { env: { XDG_STATE_HOME: dir } });
    const took = Date.now() - t0;
    expect(b.stderr).not.toMatch(/\n\s+at /);
    expect(b.code, b.stderr).toBe(5);
    expect(b.stderr).toMatch(new RegExp(`mqbak: error: .*${topic}\\[1\\].*NOT_LEADER_OR_FOLLOWER`));
    // docs/KAFKA.md: retriable errors are retried for 20 s per partition, the command ends within 40 s
    expect(took).toBeLessThan(40_000);
    expect(took).toBeGreaterThan(15_000);
  }, 120_000);

  it('a persistent error on one partition ends the restore with exit 5 naming the partition and the error, within the documented bound', async () => {
    const topic = await createSpread(mock, 'stuck-write', PARTITIONS);
    await produceBatches(mock, topic, PARTITIONS, 5, 10, 100);
    const dir = await tempDir();
    const env = { XDG_STATE_HOME: dir };
    expect((await runMqbak(['backup', urlOf(mock), dir, '--topics', topic], { env })).code).toBe(0);
    const target = `${topic}-r`;
    await mock.send(`create ${target} ${PARTITIONS} 3`);
    await mock.send(`partition_errors ${target} 2 Produce 80 NOT_ENOUGH_REPLICAS`);
    const t0 = Date.now();
    const r = await runMqbak(['restore', dir, urlOf(mock), '--map', `${topic}=${target}`], { env });
    const took = Date.now() - t0;
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code, r.stderr).toBe(5);
    expect(r.stderr).toMatch(new RegExp(`mqbak: error: .*${target}\\[2\\].*NOT_ENOUGH_REPLICAS`));
    expect(took).toBeLessThan(40_000);
    expect(took).toBeGreaterThan(15_000);
  }, 120_000);
});
