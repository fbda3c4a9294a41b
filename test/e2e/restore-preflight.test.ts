/**
 * restore checks the chain it replays before the first publish (issue 14, "A restore must not
 * publish from an archive it has not checked"): a missing, truncated or same-size corrupted
 * segment of a RabbitMQ or Kafka archive is exit 4 with the findings as verify prints them and
 * nothing on the target; with --preflight sizes a same-size corruption is found mid-restore, the
 * restore stops at once and prints exactly which source range each stream published. A segment
 * key outside its backup's key space (`../`) is an integrity finding in verify and refused by
 * the preflight. Real RabbitMQ and the Kafka mock cluster; the built binary.
 */
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runMqbak, type RunResult } from '../helpers/run-mqbak.js';
import { body, declare, env, management, readQueue, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';
import { kafka, readAll, url as kafkaUrl } from '../helpers/kafka-e2e.js';
import { kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { queueDepth } from '../../src/brokers/rabbitmq/index.js';
import { parseManifest, serializeManifest, type Manifest, type SegmentEntry } from '../../src/archive/manifest.js';

const { newVhost, newStore } = useRabbitE2e();

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A copy of a store to damage. */
async function copyOf(store: string): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'mqbak-preflight-'));
  dirs.push(d);
  await cp(store, d, { recursive: true });
  return d;
}

const file = (store: string, key: string) => join(store, ...key.split('/'));

async function manifestOf(store: string, id: string): Promise<Manifest> {
  return parseManifest(await readFile(file(store, `manifests/${id}.json`)));
}

/** The user-facing failure: one error line, at most one hint, no stack trace. */
function oneError(r: RunResult): string {
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('mqbak: error:'));
  expect(lines, r.stderr).toHaveLength(1);
  expect(r.stderr.split('\n').filter((l) => l.startsWith('hint:')).length, r.stderr).toBeLessThanOrEqual(1);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  return lines[0]!;
}

type Damage = 'missing' | 'truncated' | 'same-size';

async function damage(store: string, seg: SegmentEntry, how: Damage): Promise<string> {
  const f = file(store, seg.key);
  if (how === 'missing') {
    await unlink(f);
    return `error: missing-segment: segment ${seg.key}: missing`;
  }
  if (how === 'truncated') {
    await truncate(f, seg.bytes - 7);
    return `error: size-mismatch: segment ${seg.key}: ${seg.bytes - 7} bytes, manifest says ${seg.bytes}`;
  }
  const b = await readFile(f);
  const mid = Math.floor(b.length / 2);
  b[mid] = b[mid]! ^ 0x20;
  await writeFile(f, b);
  return `error: sha-mismatch: segment ${seg.key}: SHA-256`;
}

/** The line restore prints for a stream stopped by damage. */
function publishedLines(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith('published: '));
}

describe('restore preflight, RabbitMQ', () => {
  let src: { url: string; conn: Awaited<ReturnType<typeof newVhost>>['conn'] };
  let store: string;
  let id: string;
  let segs: SegmentEntry[];
  const N = 300;

  it('backs up 300 messages into many small segments', async () => {
    src = await newVhost('pf-src');
    store = await newStore();
    await declare(src.conn, 'jobs');
    const ch = await src.conn.model.createConfirmChannel();
    for (let i = 0; i < N; i++) ch.sendToQueue('jobs', body(i), { messageId: `m${i}` });
    await ch.waitForConfirms();
    await ch.close();
    const r = await runMqbak(['backup', src.url, store, '--queues', 'jobs', '--segment-size', '8k', '--json'], { env });
    expect(r.code, r.stderr).toBe(0);
    id = (JSON.parse(r.stdout) as { id: string }).id;
    segs = (await manifestOf(store, id)).streams[0]!.segments;
    expect(segs.length).toBeGreaterThanOrEqual(5);
  });

  for (const how of ['missing', 'truncated', 'same-size'] as const) {
    it(`a ${how} segment: exit 4 before anything is published, the finding as verify prints it`, async () => {
      const copy = await copyOf(store);
      // the last segment: today's restore published every one before it
      const finding = await damage(copy, segs[segs.length - 1]!, how);
      const dst = await newVhost(`pf-dst-${how}`);
      await declare(dst.conn, 'jobs');
      const r = await runMqbak(['restore', copy, dst.url], { env });
      expect(r.code, r.stderr).toBe(4);
      expect(oneError(r)).toMatch(new RegExp(`^mqbak: error: backup ${id}: 1 integrity finding .*nothing was restored`));
      expect(r.stdout).toContain(finding);
      expect((await queueDepth(dst.conn, 'jobs')).messages).toBe(0);
    });
  }

  // the sink connects while the preflight reads: what it opened is closed, nothing created
  it('--definitions into an empty vhost: a damaged archive creates no queue, publishes nothing, and the process exits', async () => {
    const copy = await copyOf(store);
    await damage(copy, segs[segs.length - 1]!, 'missing');
    const dst = await newVhost('pf-dst-defs');
    const r = await runMqbak(['restore', copy, dst.url, '--definitions'], { env, timeoutMs: 60_000 });
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code, r.stderr).toBe(4);
    expect(oneError(r)).toMatch(/integrity finding .*nothing was restored/);
    expect(await management(`/api/queues/${encodeURIComponent(dst.vhost)}`)).toEqual([]);
    const exchanges = (await management(`/api/exchanges/${encodeURIComponent(dst.vhost)}`)) as Array<{ name: string }>;
    expect(exchanges.map((e) => e.name).filter((n) => n !== '' && !n.startsWith('amq.'))).toEqual([]);
  });

  it('a target that never answers: a damaged archive is the preflight error at once, not a wait for the connection', async () => {
    const copy = await copyOf(store);
    await damage(copy, segs[segs.length - 1]!, 'missing');
    // accepts connections and never says anything (AMQP and HTTP alike)
    const held: Socket[] = [];
    const silent = createServer((s) => held.push(s));
    await new Promise<void>((res) => silent.listen(0, '127.0.0.1', res));
    const port = (silent.address() as { port: number }).port;
    try {
      const started = Date.now();
      const r = await runMqbak(['restore', copy, `amqp://guest:guest@127.0.0.1:${port}/%2F`], { env: { MQBAK_RABBITMQ_MANAGEMENT_URL: `http://127.0.0.1:${port}` }, timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(4);
      expect(oneError(r)).toMatch(/integrity finding .*nothing was restored/);
      // the AMQP connect waits up to 15 s for an answer
      expect(Date.now() - started).toBeLessThan(12_000);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((res) => silent.close(res));
    }
  });

  it('--preflight sizes: a same-size corruption stops the restore mid-way, exit 4, and it prints the range published', async () => {
    const copy = await copyOf(store);
    const bad = 3;
    await damage(copy, segs[bad]!, 'same-size');
    const dst = await newVhost('pf-dst-sizes');
    await declare(dst.conn, 'jobs');
    const state = { ...env, XDG_STATE_HOME: await newStore() }; // where its journal goes
    const r = await runMqbak(['restore', copy, dst.url, '--preflight', 'sizes'], { env: state });
    expect(r.code, r.stderr).toBe(4);
    expect(oneError(r)).toMatch(new RegExp(`^mqbak: error: segment ${segs[bad]!.key}: SHA-256 .*the restore stopped there`));
    // exactly the segments before the damaged one went out, and the line says so
    const first = BigInt(segs[0]!.firstPosition);
    const last = BigInt(segs[bad - 1]!.lastPosition);
    const count = segs.slice(0, bad).reduce((n, s) => n + s.records, 0);
    expect(publishedLines(r.stdout)).toEqual([`published: queue jobs: positions ${first}..${last} (${count} records)`]);
    const onTarget = await readQueue(dst.conn, 'jobs', false);
    expect(onTarget).toHaveLength(count);
    onTarget.forEach((m, i) => expect(m.content.equals(body(i))).toBe(true));
    // the full preflight (the default) finds the same damage before publishing anything more
    const again = await runMqbak(['restore', copy, dst.url], { env: state });
    expect(again.code).toBe(4);
    expect(again.stdout).toContain(`error: sha-mismatch: segment ${segs[bad]!.key}`);
    expect((await queueDepth(dst.conn, 'jobs')).messages).toBe(count);
    // the store repaired, the same restore continues after what it published (its journal)
    await cp(file(store, segs[bad]!.key), file(copy, segs[bad]!.key));
    const rest = await runMqbak(['restore', copy, dst.url], { env: state });
    expect(rest.code, rest.stderr).toBe(0);
    const all = await readQueue(dst.conn, 'jobs', false);
    expect(all).toHaveLength(N);
    all.forEach((m, i) => expect(m.content.equals(body(i))).toBe(true));
  });

  it('a segment key outside its backup (../): an integrity finding in verify (exit 4), refused by the preflight', async () => {
    const copy = await copyOf(store);
    const mf = file(copy, `manifests/${id}.json`);
    const m = parseManifest(await readFile(mf));
    const key = m.streams[0]!.segments[1]!.key;
    m.streams[0]!.segments[1]!.key = `segments/${id}/../../${key}`;
    await writeFile(mf, serializeManifest(m));
    const v = await runMqbak(['verify', copy]);
    expect(v.code, v.stderr).toBe(4);
    expect(v.stdout).toContain(`error: invalid-manifest: backup ${id}: segment key "segments/${id}/../../${key}" is outside the backup's own segments/${id}/`);
    const dst = await newVhost('pf-dst-key');
    await declare(dst.conn, 'jobs');
    for (const preflight of ['full', 'sizes']) {
      const r = await runMqbak(['restore', copy, dst.url, '--preflight', preflight], { env });
      expect(r.code, r.stderr).toBe(4);
      oneError(r);
      expect(r.stdout).toContain('error: invalid-manifest: ');
    }
    expect((await queueDepth(dst.conn, 'jobs')).messages).toBe(0);
  });
});

async function topicExists(topic: string): Promise<boolean> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return (await admin.listTopics()).includes(topic);
  } finally {
    await admin.disconnect();
  }
}

describe('restore preflight, Kafka', () => {
  let store: string;
  let id: string;
  let topic: string;
  let m: Manifest;

  it('backs up 2 partitions of 150 records of 20 KB into segments of 512 KiB', async () => {
    topic = uniqueName('pf');
    await kafkaCreateTopic(topic, 2);
    // enough that the writer sends requests (1 MB) before the damaged segment is reached
    const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    for (let i = 0; i < 300; i += 30) {
      const messages = Array.from({ length: 30 }, (_, j) => ({ partition: (i + j) % 2, key: `k${i + j}`, value: randomBytes(20_000) }));
      await p.send({ topic, acks: -1, messages });
    }
    await p.disconnect();
    store = await newStore();
    const r = await runMqbak(['backup', kafkaUrl(), store, '--topics', topic, '--segment-size', '512k', '--json']);
    expect(r.code, r.stderr).toBe(0);
    id = (JSON.parse(r.stdout) as { id: string }).id;
    m = await manifestOf(store, id);
    expect(m.streams.map((s) => s.segments.length).every((n) => n >= 6)).toBe(true);
  });

  for (const how of ['missing', 'truncated', 'same-size'] as const) {
    it(`a ${how} segment: exit 4 before the target topic is even created`, async () => {
      const copy = await copyOf(store);
      const segs = m.streams.find((s) => s.address.partition === 1)!.segments;
      const finding = await damage(copy, segs[segs.length - 1]!, how);
      const target = `${topic}-${how}`;
      const r = await runMqbak(['restore', copy, kafkaUrl(), '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: copy } });
      expect(r.code, r.stderr).toBe(4);
      expect(oneError(r)).toMatch(/integrity finding .*nothing was restored/);
      expect(r.stdout).toContain(finding);
      expect(await topicExists(target)).toBe(false);
    });
  }

  it('--preflight sizes: a same-size corruption stops mid-way; the printed ranges are what the target holds', async () => {
    const copy = await copyOf(store);
    const damaged = m.streams.find((s) => s.address.partition === 0)!;
    const bad = 4;
    await damage(copy, damaged.segments[bad]!, 'same-size');
    const target = `${topic}-sizes`;
    const r = await runMqbak(['restore', copy, kafkaUrl(), '--map', `${topic}=${target}`, '--preflight', 'sizes'], { env: { XDG_STATE_HOME: copy } });
    expect(r.code, r.stderr).toBe(4);
    expect(oneError(r)).toMatch(new RegExp(`^mqbak: error: segment ${damaged.segments[bad]!.key}: SHA-256 .*the restore stopped there`));
    const onTarget = await readAll(target);
    const lines = publishedLines(r.stdout);
    expect(lines).toHaveLength(2);
    for (const p of [0, 1]) {
      // source and target offsets both start at 0: the target's records are source positions 0..n-1
      const n = onTarget.filter((x) => x.partition === p).length;
      const name = `${topic}[${p}] -> ${target}[${p}]`;
      expect(lines[p]).toBe(n === 0 ? `published: ${name}: nothing` : `published: ${name}: positions 0..${n - 1} (${n} record${n === 1 ? '' : 's'})`);
    }
    // nothing of the damaged segment or after it went out
    const n0 = onTarget.filter((x) => x.partition === 0).length;
    expect(n0).toBeGreaterThan(0);
    expect(BigInt(n0)).toBeLessThanOrEqual(BigInt(damaged.segments[bad]!.firstPosition));
  });
});
