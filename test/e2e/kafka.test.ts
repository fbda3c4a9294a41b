/**
 * Kafka backup and restore through the mqbak binary against the Kafka test broker: faithful
 * round trip under a renamed topic with an exact offset map, a full + incremental chain restored
 * with its consumer group translated, point in time, dry-run, a group on a non-empty target, a
 * restore SIGKILLed halfway then rerun, both producers, and the target broker dying mid-restore.
 * (The reader's cases are in kafka-reader.test.ts.)
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { highs, kafka, produceVaried, readAll, strip, url, useTempDirs } from '../helpers/kafka-e2e.js';
import { MQBAK_BIN, runMqbak } from '../helpers/run-mqbak.js';
import { requireTool } from '../helpers/tools.js';

const tempDir = useTempDirs();

describe('kafka backup and restore through the binary', () => {
  it('round trip: byte-identical under a renamed topic, same partitions and order, exact offset map', async () => {
    const dir = await tempDir();
    const topic = uniqueName('rt');
    await kafkaCreateTopic(topic, 3);
    await produceVaried(topic, 3, 60);
    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json']);
    expect(b.stderr).not.toMatch(/\n\s+at /);
    expect(b.code).toBe(0);
    const bj = JSON.parse(b.stdout);
    expect(bj.kind).toBe('full');
    expect(bj.records).toBe(60);
    expect(bj.streams).toHaveLength(3);
    const target = `${topic}-copy`;
    const mapFile = path.join(dir, 'map.jsonl');
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--offset-map', mapFile, '--json'], { env: { XDG_STATE_HOME: dir } });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).records).toBe(60);
    expect(JSON.parse(r.stdout).topics).toEqual({ [target]: 60 });
    const src = await readAll(topic);
    const dst = await readAll(target);
    expect(dst).toEqual(src); // offsets included: an empty target starts at 0 like the source
    const lines = (await readFile(mapFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(
      [0, 1, 2].map((p) => ({ stream: `kafka/${topic}/${p}`, source: { topic, partition: p }, target: { topic: target, partition: p }, sourceStart: '0', sourceEnd: '19', targetStart: '0' })),
    );
  });

  it('full, then incremental, restored as a chain under a new name: identical, exact offset map, group translated; dry-run writes nothing', async () => {
    const dir = await tempDir();
    const topic = uniqueName('inc');
    const group = uniqueName('inc-group');
    await kafkaCreateTopic(topic, 2);
    await produceVaried(topic, 2, 20);
    // a group that has read partition 1 up to offset 7
    const admin = kafka().admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 1, offset: '7' }] });
    const first = await runMqbak(['backup', url(), dir, '--topics', topic, '--groups', group, '--json']);
    expect(first.stderr + first.stdout).not.toMatch(/at .*\.js:\d+/);
    expect(first.code, first.stderr).toBe(0);
    const full = JSON.parse(first.stdout);
    expect(full.kind).toBe('full');
    expect(full.records).toBe(20);
    expect(full.streams).toHaveLength(2);
    await produceVaried(topic, 2, 14, 20);
    const inc = await runMqbak(['backup', url(), dir, '--topics', topic, '--groups', group, '--json']);
    expect(inc.code).toBe(0);
    const ij = JSON.parse(inc.stdout);
    expect(ij.kind).toBe('incremental');
    expect(ij.parent).toBe(full.id);
    expect(ij.records).toBe(14);
    expect(ij.streams.map((s: { from: string }) => s.from)).toEqual(['10', '10']);

    const target = `${topic}-r`;
    const dry = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--dry-run', '--json', '--groups', group], { env: { XDG_STATE_HOME: dir } });
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout);
    expect(plan.streams).toHaveLength(2);
    expect(plan.streams.map((s: { backups: string[] }) => s.backups)).toEqual([[full.id, ij.id], [full.id, ij.id]]);
    expect(await admin.listTopics()).not.toContain(target);

    const mapFile = path.join(dir, 'chain-map.jsonl');
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--offset-map', mapFile, '--groups', group, '--json'], { env: { XDG_STATE_HOME: dir } });
    expect(r.code, r.stderr).toBe(0);
    const rj = JSON.parse(r.stdout);
    expect(rj.records).toBe(34);
    expect(rj.topics[target]).toBe(34);
    // a fresh target: offsets included, like the source
    expect(await readAll(target)).toEqual(await readAll(topic));
    // each partition's 17 source offsets, from two backups, map one to one as one run
    const lines = (await readFile(mapFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toEqual(
      [0, 1].map((p) => ({ stream: `kafka/${topic}/${p}`, source: { topic, partition: p }, target: { topic: target, partition: p }, sourceStart: '0', sourceEnd: '16', targetStart: '0' })),
    );
    const offs = await admin.fetchOffsets({ groupId: group, topics: [target] });
    expect(offs[0]!.partitions.find((p) => p.partition === 1)!.offset).toBe('7');
    await admin.disconnect();
  });

  it('--until restores only records up to that time', async () => {
    const dir = await tempDir();
    const topic = uniqueName('pit');
    await kafkaCreateTopic(topic, 2);
    await produceVaried(topic, 2, 30);
    expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
    const until = new Date(1_700_000_000_000 + 11 * 1000).toISOString(); // records 0..11
    const target = `${topic}-r`;
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--until', until, '--json'], { env: { XDG_STATE_HOME: dir } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).records).toBe(12);
    const src = (await readAll(topic)).filter((s) => Number(s.timestamp) <= Date.parse(until));
    expect(strip(await readAll(target))).toEqual(strip(src));
    expect(await highs(target)).toEqual([6n, 6n]);
  });

  it('a group committed mid-topic lands on the target at the mapped offset', async () => {
    const dir = await tempDir();
    const topic = uniqueName('grp');
    const group = uniqueName('billing');
    await kafkaCreateTopic(topic, 1);
    await produceVaried(topic, 1, 20);
    const admin = kafka().admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '7' }] });
    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--groups', group, '--json']);
    expect(b.code).toBe(0);
    // the target already holds 5 records: the mapped offset is 5 + 7
    const target = `${topic}-r`;
    await kafkaCreateTopic(target, 1);
    const p = kafka().producer();
    await p.connect();
    await p.send({ topic: target, messages: Array.from({ length: 5 }, (_, i) => ({ value: `pre${i}` })) });
    await p.disconnect();
    const refused = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already holds data/);
    const mapFile = path.join(dir, 'map.jsonl');
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--allow-nonempty', '--groups', group, '--offset-map', mapFile, '--json'], {
      env: { XDG_STATE_HOME: dir },
    });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).groups[0]).toMatchObject({ group, committed: '7', target: '12' });
    const committed = await admin.fetchOffsets({ groupId: group, topics: [target] });
    expect(committed[0]!.partitions[0]!.offset).toBe('12');
    const dst = await readAll(target);
    const src = await readAll(topic);
    expect(dst[12]!.value).toBe(src[7]!.value);
    await admin.disconnect();
  });

  it('a restore killed with SIGKILL halfway, then rerun with the same arguments: no duplicates, no loss', async () => {
    const dir = await tempDir();
    const topic = uniqueName('kill');
    await kafkaCreateTopic(topic, 2);
    const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    // enough that the restore (about 4x faster than kafkajs' producer) is still running when killed
    for (let s = 0; s < 100_000; s += 2000) {
      await p.send({ topic, acks: -1, messages: Array.from({ length: 2000 }, (_, i) => ({ partition: (s + i) % 2, key: `k${s + i}`, value: `${s + i}`.padEnd(200, 'x') })) });
    }
    await p.disconnect();
    expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
    const target = `${topic}-r`;
    const args = [MQBAK_BIN, 'restore', dir, url(), '--map', `${topic}=${target}`, '--json'];
    const child = spawn(process.execPath, args, { env: { ...process.env, CI: 'true', XDG_STATE_HOME: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const admin = kafka().admin();
    await admin.connect();
    let written = 0;
    const deadline = Date.now() + 60_000;
    while (written < 3000 && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
      if ((await admin.listTopics()).includes(target)) written = (await admin.fetchTopicOffsets(target)).reduce((n, o) => n + Number(o.high), 0);
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('close', r));
    const afterKill = (await admin.fetchTopicOffsets(target)).reduce((n, o) => n + Number(o.high), 0);
    expect(afterKill, err).toBeGreaterThan(0);
    expect(afterKill).toBeLessThan(100_000);
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--json'], { env: { XDG_STATE_HOME: dir } });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j.resumed).toBe(true);
    expect(j.records + j.alreadyRestored).toBe(100_000);
    await admin.disconnect();
    expect(await highs(target)).toEqual([50_000n, 50_000n]);
    expect(strip(await readAll(target))).toEqual(strip(await readAll(topic)));
  }, 180_000);
});

describe('kafka restore producers', () => {
  it("kafkajs' producer (MQBAK_KAFKA_PRODUCER=kafkajs) restores the same records as mqbak's batch producer", async () => {
    const dir = await tempDir();
    const topic = uniqueName('prod');
    await kafkaCreateTopic(topic, 3);
    await produceVaried(topic, 3, 90);
    expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
    const src = strip(await readAll(topic));
    for (const [kind, env] of [
      ['batch', {}],
      ['kafkajs', { MQBAK_KAFKA_PRODUCER: 'kafkajs' }],
    ] as const) {
      const target = `${topic}-${kind}`;
      const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir, ...env } });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(0);
      expect(strip(await readAll(target))).toEqual(src);
    }
    const bad = await runMqbak(['restore', dir, url(), '--map', `${topic}=${topic}-x`], { env: { XDG_STATE_HOME: dir, MQBAK_KAFKA_PRODUCER: 'fast' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/MQBAK_KAFKA_PRODUCER=fast: expected batch or kafkajs/);
  });

  // kcat is installed by the tests' set-up (scripts/ensure-deps.sh): this test never skips
  it('null header values survive backup and restore (batch producer); repeated names stay in their order', async () => {
    requireTool('kcat');
    const dir = await tempDir();
    const topic = uniqueName('hdr');
    await kafkaCreateTopic(topic, 1);
    const b = kafkaBrokers().join(',');
    // kcat: -H name sends a null value, -H name= an empty one
    const p = spawnSync('kcat', ['-P', '-b', b, '-t', topic, '-K', '\t', '-H', 'a=1', '-H', 'a=3', '-H', 'b=2', '-H', 'n', '-H', 'e='], { input: 'k1\tv1\nk2\tv2\n' });
    expect(p.status).toBe(0);
    expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
    const target = `${topic}-copy`;
    expect((await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } })).code).toBe(0);
    const dump = (t: string) => spawnSync('kcat', ['-C', '-b', b, '-t', t, '-e', '-o', 'beginning', '-q', '-X', 'check.crcs=true', '-f', '%o|%k|%h|%s|%T\n'], { encoding: 'utf8' }).stdout;
    // check.crcs: librdkafka verifies every batch's CRC-32C as it reads
    const src = dump(topic);
    expect(src.split('\n')[0]).toMatch(/^0\|k1\|a=1,a=3,b=2,n=NULL,e=\|v1\|\d+$/);
    expect(dump(target)).toBe(src);
  });
});

describe('kafka restore when the broker goes away', () => {
  it('the target broker killed mid-restore: exit 5 with one line naming the partition, no stack trace, no hang', async () => {
    // a broker of this test's own (the shared one must stay up)
    const bin = execFileSync('bash', [path.join(path.dirname(MQBAK_BIN), '..', 'test/brokers/kafka-mock.sh'), 'build'], { encoding: 'utf8' }).trim().split('\n').pop()!;
    const mock = spawn(bin, ['1'], { stdio: ['pipe', 'pipe', 'ignore'] });
    try {
      const bootstrap = await new Promise<string>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('mockd printed no BOOTSTRAP line')), 20_000);
        createInterface({ input: mock.stdout }).on('line', (l) => {
          const m = /^BOOTSTRAP (\S+)/.exec(l);
          if (m) {
            clearTimeout(t);
            resolve(m[1]!);
          }
        });
      });
      const dir = await tempDir();
      const topic = uniqueName('gone');
      await kafkaCreateTopic(topic, 3);
      const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      for (let s = 0; s < 60_000; s += 2000) {
        await p.send({ topic, acks: -1, messages: Array.from({ length: 2000 }, (_, i) => ({ partition: (s + i) % 3, key: `k${s + i}`, value: `${s + i}`.padEnd(500, 'x') })) });
      }
      await p.disconnect();
      expect((await runMqbak(['backup', url(), dir, '--topics', topic])).code).toBe(0);
      const child = spawn(process.execPath, [MQBAK_BIN, 'restore', dir, `kafka://${bootstrap}`, '--topics', topic], {
        env: { ...process.env, CI: 'true', XDG_STATE_HOME: dir },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
        // the records are on their way: the broker dies now
        if (/restoring \d+ partition/.test(err) && mock.exitCode === null) mock.kill('SIGKILL');
      });
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      expect(err).not.toMatch(/\n\s+at /);
      expect(code, err).toBe(5);
      expect(err).toMatch(/mqbak: error: produce to gone-[^\s]+\[\d\]: .*(ECONNREFUSED|Connection|closed)/i);
    } finally {
      mock.kill('SIGKILL');
    }
  }, 120_000);
});

