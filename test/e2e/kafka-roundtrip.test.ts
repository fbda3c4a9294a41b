/**
 * Kafka backup and restore through the mqbak binary against the test broker (issue 4):
 * full + incremental chain restored under a renamed topic byte for byte with an exact offset
 * map and a translated consumer group; dry-run writes nothing; point in time; SIGKILL mid-restore
 * then rerun gives no duplicates and no loss.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CompressionTypes, Kafka, logLevel, type IHeaders } from 'kafkajs';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { MQBAK_BIN, runMqbak } from '../helpers/run-mqbak.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});
async function tmp(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mqbak-kafka-e2e-'));
  dirs.push(d);
  return d;
}
const kafkaUrl = (): string => `kafka://${kafkaBrokers().join(',')}`;
const kafka = (): Kafka => new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('kafka-e2e'), logLevel: logLevel.NOTHING });

interface Msg {
  partition: number;
  key: Buffer | null;
  value: Buffer | null;
  headers?: IHeaders;
  timestamp?: string;
}

/** A stable, comparable text for one record: bytes as hex, headers with repeats in order. */
function show(m: { key: Buffer | null; value: Buffer | null; headers?: IHeaders; timestamp?: string }): string {
  const h = Object.entries(m.headers ?? {})
    .map(([k, v]) => `${k}=${(Array.isArray(v) ? v : [v]).map((x) => (x === undefined ? 'u' : Buffer.from(x as Buffer).toString('hex'))).join('|')}`)
    .sort()
    .join(',');
  return `${m.key === null ? 'NULL' : m.key.toString('hex')}/${m.value === null ? 'NULL' : m.value.toString('hex')}/${h}/${m.timestamp}`;
}

async function produce(topic: string, msgs: Msg[]): Promise<void> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  try {
    for (let i = 0; i < msgs.length; i += 500) {
      const r = await p.send({ topic, acks: -1, compression: CompressionTypes.None, messages: msgs.slice(i, i + 500) });
      expect(r.length).toBeGreaterThan(0);
    }
  } finally {
    await p.disconnect();
  }
}

/** Every record of `topic` per partition in order (reads to the high watermark). */
async function readAll(topic: string): Promise<Map<number, Array<{ offset: string; text: string }>>> {
  const admin = kafka().admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  const out = new Map<number, Array<{ offset: string; text: string }>>(ends.map((e) => [e.partition, []]));
  const pending = new Set([...want].filter(([, h]) => h > 0n).map(([p]) => p));
  if (pending.size === 0) return out;
  const c = kafka().consumer({ groupId: uniqueName('kafka-e2e-read'), sessionTimeout: 6000 });
  await c.connect();
  try {
    await c.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`read ${topic}: partitions ${[...pending]} not finished in 60 s`)), 60_000);
      void c
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            out.get(partition)!.push({ offset: message.offset, text: show(message) });
            if (BigInt(message.offset) + 1n >= want.get(partition)!) pending.delete(partition);
            if (pending.size === 0) {
              clearTimeout(t);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await c.disconnect();
  }
  return out;
}

async function highs(topic: string): Promise<bigint[]> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((e) => BigInt(e.high));
  } finally {
    await admin.disconnect();
  }
}

async function topicExists(topic: string): Promise<boolean> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

function tricky(n: number, partitions: number, base: number, t0: number): Msg[] {
  const msgs: Msg[] = [];
  for (let i = base; i < base + n; i++) {
    const kind = i % 5;
    msgs.push({
      partition: i % partitions,
      key: kind === 0 ? null : Buffer.from([0, 255, i & 0xff, (i >> 8) & 0xff, 10, 13]),
      value: kind === 1 ? null : kind === 2 ? Buffer.alloc(0) : Buffer.from(`v${i}\u0000\u00ff`.repeat(1 + (i % 4)), 'latin1'),
      headers: kind === 3 ? { rep: [Buffer.from([1, 2]), Buffer.from([3]), Buffer.alloc(0)], other: Buffer.from([0xfe]) } : kind === 4 ? { h: Buffer.from('x') } : {},
      timestamp: String(t0 + i * 1000),
    });
  }
  return msgs;
}

describe('Kafka backup and restore through the mqbak binary', () => {
  it('full then incremental, restored as a chain under a new name: identical, exact offset map, group translated', async () => {
    const src = uniqueName('k4-src');
    const dst = uniqueName('k4-dst');
    const group = uniqueName('k4-group');
    await kafkaCreateTopic(src, 3);
    const t0 = Date.UTC(2024, 0, 1);
    await produce(src, tricky(60, 3, 0, t0));
    // a group that has read partition 1 up to offset 7
    const admin = kafka().admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic: src, partitions: [{ partition: 1, offset: '7' }] });
    await admin.disconnect();

    const store = await tmp();
    const full = await runMqbak(['backup', kafkaUrl(), store, '--topics', src, '--groups', group, '--json']);
    expect(full.stderr + full.stdout).not.toMatch(/at .*\.js:\d+/);
    expect(full.code, full.stderr).toBe(0);
    const fj = JSON.parse(full.stdout);
    expect(fj.kind).toBe('full');
    expect(fj.records).toBe(60);
    expect(fj.streams).toHaveLength(3);

    await produce(src, tricky(30, 3, 60, t0));
    const inc = await runMqbak(['backup', kafkaUrl(), store, '--topics', src, '--groups', group, '--json']);
    expect(inc.code, inc.stderr).toBe(0);
    const ij = JSON.parse(inc.stdout);
    expect(ij.kind).toBe('incremental');
    expect(ij.parent).toBe(fj.id);
    expect(ij.records).toBe(30);

    const dir = await tmp();
    const mapFile = path.join(dir, 'map.jsonl');
    const dry = await runMqbak(['restore', store, kafkaUrl(), '--map', `${src}=${dst}`, '--dry-run', '--json', '--groups', group], { env: { XDG_STATE_HOME: dir } });
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).streams).toHaveLength(3);
    expect(await topicExists(dst)).toBe(false);

    const res = await runMqbak(['restore', store, kafkaUrl(), '--map', `${src}=${dst}`, '--offset-map', mapFile, '--groups', group, '--json'], { env: { XDG_STATE_HOME: dir } });
    expect(res.code, res.stderr).toBe(0);
    const rj = JSON.parse(res.stdout);
    expect(rj.records).toBe(90);
    expect(rj.topics[dst]).toBe(90);

    const a = await readAll(src);
    const b = await readAll(dst);
    for (let p = 0; p < 3; p++) {
      expect(b.get(p)!.map((r) => r.text)).toEqual(a.get(p)!.map((r) => r.text));
      expect(b.get(p)!.length).toBe(30);
    }
    const lines = (await readFile(mapFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    // a fresh target: each partition's 30 source offsets map one to one, as one run
    expect(lines.map((l) => `${l.source.topic}/${l.source.partition}->${l.target.topic}/${l.target.partition}`).sort()).toEqual([0, 1, 2].map((p) => `${src}/${p}->${dst}/${p}`));
    for (const l of lines) {
      expect(String(l.sourceStart)).toBe('0');
      expect(String(l.sourceEnd)).toBe('29');
      expect(String(l.targetStart)).toBe('0');
    }
    const admin2 = kafka().admin();
    await admin2.connect();
    const offs = await admin2.fetchOffsets({ groupId: group, topics: [dst] });
    await admin2.disconnect();
    expect(offs[0]!.partitions.find((p) => p.partition === 1)!.offset).toBe('7');
  }, 180_000);

  it('point in time: --until restores only records up to that time', async () => {
    const src = uniqueName('k4-pit');
    const dst = uniqueName('k4-pit-dst');
    await kafkaCreateTopic(src, 2);
    const t0 = Date.UTC(2024, 0, 1);
    await produce(src, tricky(40, 2, 0, t0));
    const store = await tmp();
    const b = await runMqbak(['backup', kafkaUrl(), store, '--topics', src, '--json']);
    expect(b.code, b.stderr).toBe(0);
    const until = new Date(t0 + 19 * 1000).toISOString(); // records 0..19
    const r = await runMqbak(['restore', store, kafkaUrl(), '--map', `${src}=${dst}`, '--until', until, '--json'], { env: { XDG_STATE_HOME: await tmp() } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).records).toBe(20);
    expect(await highs(dst)).toEqual([10n, 10n]);
  }, 120_000);

  it('a restore killed with SIGKILL halfway, then rerun: no duplicates, no loss', async () => {
    const src = uniqueName('k4-kill');
    const dst = uniqueName('k4-kill-dst');
    await kafkaCreateTopic(src, 2);
    const n = 40_000;
    const msgs: Msg[] = [];
    for (let i = 0; i < n; i++) msgs.push({ partition: i % 2, key: Buffer.from(`k${i}`), value: Buffer.from(`value-${i}-`.padEnd(200, 'z')) });
    await produce(src, msgs);
    const store = await tmp();
    const b = await runMqbak(['backup', kafkaUrl(), store, '--topics', src, '--json']);
    expect(b.code, b.stderr).toBe(0);
    const state = await tmp();
    const args = [MQBAK_BIN, 'restore', store, kafkaUrl(), '--map', `${src}=${dst}`, '--json'];
    const child = spawn(process.execPath, args, { env: { ...process.env, XDG_STATE_HOME: state, CI: 'true' }, stdio: 'ignore' });
    const exited = new Promise((r) => child.once('exit', r));
    let killedAt = -1n;
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (!(await topicExists(dst))) continue;
      const h = await highs(dst);
      const sum = h.reduce((x, y) => x + y, 0n);
      if (sum > 0n) {
        child.kill('SIGKILL');
        killedAt = sum;
        break;
      }
    }
    await exited;
    expect(killedAt).toBeGreaterThan(0n);
    const mid = (await highs(dst)).reduce((x, y) => x + y, 0n);
    expect(mid).toBeLessThan(BigInt(n)); // really halfway
    const again = await runMqbak(args.slice(1), { env: { XDG_STATE_HOME: state } });
    expect(again.code, again.stderr).toBe(0);
    const j = JSON.parse(again.stdout);
    expect(j.resumed).toBe(true);
    expect(await highs(dst)).toEqual([BigInt(n / 2), BigInt(n / 2)]);
    const a = await readAll(src);
    const c = await readAll(dst);
    for (const p of [0, 1]) expect(c.get(p)!.map((r) => r.text)).toEqual(a.get(p)!.map((r) => r.text));
  }, 240_000);
});
