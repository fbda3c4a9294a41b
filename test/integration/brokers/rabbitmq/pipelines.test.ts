/**
 * The RabbitMQ adapter through core's one backup and one restore pipeline, with the real archive
 * writer/reader, a local store and the real broker: the parts the binary tests cannot steer
 * (several consumers for a deep mirror, drain checkpoints, stream offset runs, broker-owned
 * headers, an interrupted restore).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVhost, deleteVhost, rabbitManagementUrl, rabbitUrl, uniqueName } from '../../../helpers/brokers.js';
import { openStore } from '../../../../src/stores/open.js';
import type { Store } from '../../../../src/stores/store.js';
import type { StreamEntry } from '../../../../src/archive/manifest.js';
import { silentProgress } from '../../../../src/common/progress.js';
import type { ArchiveRecord } from '../../../../src/common/record.js';
import { readStream } from '../../../../src/core/backup-reader.js';
import { backup } from '../../../../src/core/backup.js';
import { restore } from '../../../../src/core/restore.js';
import { adapter } from '../../../../src/brokers/rabbitmq/index.js';
import { amqpMetaOf } from '../../../../src/brokers/rabbitmq/amqp-json.js';
import { connectRabbit, type RabbitConnection } from '../../../../src/brokers/rabbitmq/connection.js';
import { QueueConsumer, queueDepth } from '../../../../src/brokers/rabbitmq/consumer.js';
import { DEFAULT_WINDOW } from '../../../../src/brokers/rabbitmq/options.js';

const managementUrl = rabbitManagementUrl();
let vhost: string;
let url: string;
let conn: RabbitConnection;
let dir: string;
let store: Store;

beforeAll(async () => {
  vhost = uniqueName('rmq-pipeline');
  await createVhost(vhost);
  url = rabbitUrl(vhost);
  conn = await connectRabbit(url);
  dir = await mkdtemp(path.join(tmpdir(), 'mqbak-rmq-pipe-'));
  store = await openStore(path.join(dir, 'store'));
});

afterAll(async () => {
  await store?.close();
  await conn?.close();
  if (vhost) await deleteVhost(vhost);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function backupOf(options: Record<string, unknown>, target = url) {
  return backup({
    adapter,
    url: target,
    adapterOptions: { managementUrl, idleMs: 2000, ...options },
    store,
    full: false,
    toolVersion: 'test',
    signal: new AbortController().signal,
    progress: silentProgress,
    debug: false,
    env: {},
  });
}

let journals = 0;
function restoreOf(o: { backupId?: string; renames?: Record<string, string>; options?: Record<string, unknown>; target?: string; journal?: string; signal?: AbortSignal }) {
  const journal = o.journal ?? path.join(dir, `journal-${journals++}.json`);
  return restore({
    adapter,
    store,
    url: o.target ?? url,
    adapterOptions: { managementUrl, ...o.options },
    backupId: o.backupId ?? 'latest',
    streams: [],
    renames: o.renames ?? {},
    until: null,
    dryRun: false,
    journalPath: () => journal,
    signal: o.signal ?? new AbortController().signal,
    progress: silentProgress,
    debug: false,
    env: {},
  });
}

async function fill(queue: string, args: Record<string, unknown>, n: number, props: (i: number) => Record<string, unknown> = () => ({})): Promise<void> {
  const ch = await conn.model.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true, arguments: args });
  for (let i = 0; i < n; i++) ch.sendToQueue(queue, Buffer.from(`${queue}-${i}`), { messageId: `${i}`, ...props(i) });
  await ch.waitForConfirms();
  await ch.close();
}

async function records(stream: StreamEntry): Promise<ArchiveRecord[]> {
  const out: ArchiveRecord[] = [];
  for await (const r of readStream(store, stream)) out.push(r);
  return out;
}

async function bodies(queue: string): Promise<string[]> {
  const { messages } = await queueDepth(conn, queue);
  if (messages === 0) return [];
  const c = await QueueConsumer.open(conn, queue, { prefetch: messages });
  const out: string[] = [];
  while (out.length < messages) {
    const m = await c.next(3000);
    if (!m) break;
    out.push(m.content.toString());
  }
  await c.close();
  return out;
}

const range = (q: string, n: number) => Array.from({ length: n }, (_, i) => `${q}-${i}`);

describe('RabbitMQ through the backup and restore pipelines', () => {
  it('mirror across several consumers (prefetch split) keeps order in the archive and in the queue', async () => {
    const q = uniqueName('deep');
    await fill(q, {}, 100);
    const r = await backupOf({ queues: [q], maxPrefetchPerConsumer: 9 });
    const s = r.backups[0]!.manifest.streams[0]!;
    expect(s).toMatchObject({ name: `rabbitmq/${encodeURIComponent(vhost)}/${q}`, address: { vhost, queue: q, queueType: 'classic' }, from: '0', to: '100', records: 100 });
    expect(s.extra).toEqual({ mode: 'mirror', depthAtStart: 100, returnedToQueue: true });
    const recs = await records(s);
    expect(recs.map((x) => Buffer.from(x.value!).toString())).toEqual(range(q, 100));
    expect(recs.map((x) => x.position)).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i)));
    expect(await bodies(q)).toEqual(range(q, 100));
    expect(r.report.streams[s.name]).toMatchObject({ queue: q, type: 'classic', records: 100, returnedToQueue: true, redelivered: 0 });
    expect(r.report.lines).toEqual([`${q} (classic): 100 of 100 messages copied and returned to the queue (RabbitMQ now marks them redelivered)`]);
  });

  it('drain in checkpoints: one committed backup per checkpoint, positions continuing, queue empty', async () => {
    const q = uniqueName('drain');
    await fill(q, {}, 25);
    const r = await backupOf({ queues: [q], mode: 'drain', checkpoint: 10 });
    expect(r.backups.map((b) => b.manifest.streams[0]!.records)).toEqual([10, 10, 5]);
    expect(r.backups.map((b) => [b.manifest.kind, b.manifest.streams[0]!.from, b.manifest.streams[0]!.to])).toEqual([
      ['full', '0', '10'],
      ['incremental', '10', '20'],
      ['incremental', '20', '25'],
    ]);
    expect(r.backups[1]!.manifest.parent?.id).toBe(r.backups[0]!.manifest.id);
    const name = r.backups[0]!.manifest.streams[0]!.name;
    expect(r.report.streams[name]).toMatchObject({ records: 25, acked: 25, mayDuplicatePrevious: false });
    expect(r.streams[0]).toMatchObject({ records: 25, acked: 25 });
    expect((await queueDepth(conn, q)).messages).toBe(0);

    // a later drain continues the chain and the positions
    await fill(q, {}, 3);
    const r2 = await backupOf({ queues: [q], mode: 'drain' });
    expect(r2.backups[0]!.manifest).toMatchObject({ kind: 'incremental', parent: { id: r.backups[2]!.manifest.id } });
    expect(r2.backups[0]!.manifest.streams[0]).toMatchObject({ from: '25', to: '28', records: 3 });

    // restore of the chain replays everything in order
    const target = uniqueName('drain-copy');
    await fill(target, {}, 0);
    const rr = await restoreOf({ renames: { [q]: target } });
    expect(rr).toMatchObject({ restored: 28, failed: 0 });
    expect(rr.plan.chain).toEqual([...r.backups, ...r2.backups].map((b) => b.manifest.id));
    expect(await bodies(target)).toEqual([...range(q, 25), ...range(q, 3)]);
  });

  it('a drain of an empty queue still leaves one backup; a drain that meets redelivered messages after an earlier drain marks mayDuplicatePrevious', async () => {
    const q = uniqueName('redeliv');
    await fill(q, {}, 0);
    const empty = await backupOf({ queues: [q], mode: 'drain' });
    expect(empty.backups.map((b) => b.manifest.streams[0]).map((s) => [s!.from, s!.to])).toEqual([['0', '0']]);
    await fill(q, {}, 4);
    // a reader that took them and died without acking: RabbitMQ returns them marked redelivered
    const c = await QueueConsumer.open(conn, q, { prefetch: 4 });
    for (let i = 0; i < 4; i++) await c.next(3000);
    await c.close();
    // nothing committed by an earlier drain (the empty one holds nothing): the count is kept, no duplicates possible
    const r = await backupOf({ queues: [q], mode: 'drain' });
    expect(r.backups[0]!.manifest.streams[0]!.extra).toEqual({ mode: 'drain', depthAtStart: 4, redelivered: 4 });
    // a later drain that meets redelivered messages: they may be in the earlier backup too
    await fill(q, {}, 2);
    const c2 = await QueueConsumer.open(conn, q, { prefetch: 2 });
    for (let i = 0; i < 2; i++) await c2.next(3000);
    await c2.close();
    const r2 = await backupOf({ queues: [q], mode: 'drain' });
    expect(r2.backups[0]!.manifest.streams[0]!.extra).toMatchObject({ mayDuplicatePrevious: true, redelivered: 2 });
    expect(r2.backups[0]!.manifest.warnings.join('\n')).toMatch(/marked redelivered/);
    expect(Object.values(r2.report.streams)[0]).toMatchObject({ mayDuplicatePrevious: true, redelivered: 2 });
  });

  it('restore moves broker-owned headers aside and drops a foreign user-id', async () => {
    const q = uniqueName('owned');
    await fill(q, {}, 2, (i) => ({
      headers: { 'x-death': [{ reason: 'rejected', count: { '!': 'int64', value: 1 } }], 'x-delivery-count': { '!': 'int64', value: 3 }, keep: i },
      userId: i === 0 ? 'guest' : undefined,
    }));
    const r = await backupOf({ queues: [q] });
    const target = uniqueName('owned-copy');
    await fill(target, {}, 0);
    const rr = await restoreOf({ backupId: r.backups[0]!.manifest.id, renames: { [q]: target } });
    expect(rr).toMatchObject({ restored: 2, failed: 0 });
    expect(rr.notes.json).toMatchObject({ headersRenamed: 2, userIdDropped: 0 });
    expect(rr.warnings.join('\n')).toMatch(/2 message\(s\) carried broker-owned headers/);
    const c = await QueueConsumer.open(conn, target, { prefetch: 2 });
    const m = (await c.next(3000))!;
    await c.close();
    expect(Object.keys(m.properties.headers ?? {})).toEqual(['x-mqbak-original-death', 'x-mqbak-original-delivery-count', 'keep']);
    expect(m.properties.userId).toBe('guest');
  });

  it('definitions: users and password hashes only with --include-users', async () => {
    const q = uniqueName('defs');
    await fill(q, { 'x-max-length': 1000 }, 1);
    const without = await backupOf({ queues: [q] });
    const d1 = without.backups[0]!.manifest.metadata.rabbitmqDefinitions as Record<string, unknown>;
    expect(d1.users).toBeUndefined();
    expect(d1.queues).toContainEqual(expect.objectContaining({ name: q, arguments: { 'x-max-length': 1000 } }));
    expect(without.backups[0]!.manifest.metadata.rabbitmq).toMatchObject({ vhost, queues: [{ name: q, type: 'classic', arguments: { 'x-max-length': 1000 } }] });
    const withUsers = await backupOf({ queues: [q], includeUsers: true });
    const d2 = withUsers.backups[0]!.manifest.metadata.rabbitmqDefinitions as { users: Array<Record<string, unknown>> };
    expect(d2.users).toContainEqual(expect.objectContaining({ name: 'guest', password_hash: expect.any(String) }));
  });

  it('restore --definitions reports objects that exist with other settings and leaves them unchanged', async () => {
    const q = uniqueName('conf');
    await fill(q, { 'x-max-length': 10 }, 2);
    const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' };
    const put = await fetch(`${managementUrl}/api/policies/${encodeURIComponent(vhost)}/${q}-p`, {
      method: 'PUT',
      headers: auth,
      body: JSON.stringify({ pattern: `^${q}$`, 'apply-to': 'queues', definition: { 'message-ttl': 60000 }, priority: 0 }),
    });
    expect(put.status).toBeLessThan(300);
    const b = await backupOf({ queues: [q] });
    // the target vhost already has the queue with another max-length and the policy with another ttl
    const target = uniqueName('conf-target');
    await createVhost(target);
    try {
      const tconn = await connectRabbit(rabbitUrl(target));
      const ch = await tconn.model.createChannel();
      await ch.assertQueue(q, { durable: true, arguments: { 'x-max-length': 99 } });
      await tconn.close();
      await fetch(`${managementUrl}/api/policies/${encodeURIComponent(target)}/${q}-p`, {
        method: 'PUT',
        headers: auth,
        body: JSON.stringify({ pattern: `^${q}$`, 'apply-to': 'queues', definition: { 'message-ttl': 1000 }, priority: 0 }),
      });
      const r = await restoreOf({ target: rabbitUrl(target), backupId: b.backups[0]!.manifest.id, options: { definitions: true } });
      const conflicts = [
        `policy ${q}-p exists with another pattern, definition or priority: left unchanged`,
        `queue ${q} exists with another type, durability or arguments: left unchanged`,
      ];
      expect((r.notes.json.definitions as { conflicts: string[] }).conflicts).toEqual(conflicts);
      expect(r.warnings).toEqual(expect.arrayContaining(conflicts));
      expect(r.notes.lines[0]).toMatch(/^definitions: \d+ created, \d+ already there, 2 differing \(left unchanged\)$/);
      expect(r.restored).toBe(2);
      const res = await fetch(`${managementUrl}/api/queues/${encodeURIComponent(target)}/${q}`, { headers: auth });
      expect(((await res.json()) as { arguments: Record<string, unknown> }).arguments).toEqual({ 'x-max-length': 99 });
    } finally {
      await deleteVhost(target);
    }
  });

  it('a target vhost that does not exist is named (not-found), before anything is published', async () => {
    const q = uniqueName('novhost');
    await fill(q, {}, 1);
    const b = await backupOf({ queues: [q] });
    const missing = uniqueName('no-such-vhost');
    for (const options of [{}, { definitions: true }]) {
      const r = restoreOf({ target: rabbitUrl(missing), backupId: b.backups[0]!.manifest.id, options });
      await expect(r).rejects.toMatchObject({ code: 'not-found', message: expect.stringContaining(`vhost "${missing}" does not exist on the target`) });
    }
    // and a backup from one
    await expect(backupOf({ queues: [q] }, rabbitUrl(missing))).rejects.toMatchObject({ code: 'not-found', message: expect.stringContaining(`vhost "${missing}" does not exist`) });
  });

  it('an interrupted restore, run again, continues: every record lands, duplicates at most the unconfirmed window', async () => {
    const q = uniqueName('resume');
    const n = 20000;
    await fill(q, {}, n);
    const b = await backupOf({ queues: [q], mode: 'drain' });
    const target = uniqueName('resume-copy');
    await fill(target, {}, 0);
    const journal = path.join(dir, 'resume.json');
    const controller = new AbortController();
    const watch = (async () => {
      while ((await queueDepth(conn, target)).messages < 1000) await new Promise((r) => setTimeout(r, 2));
      controller.abort();
    })();
    const first = restoreOf({ backupId: b.backups[0]!.manifest.id, renames: { [q]: target }, journal, signal: controller.signal });
    await expect(first).rejects.toThrow(/interrupted|closed/);
    await watch;
    const landed = (await queueDepth(conn, target)).messages;
    expect(landed).toBeGreaterThanOrEqual(1000);
    expect(landed).toBeLessThan(n);

    const second = await restoreOf({ backupId: b.backups[0]!.manifest.id, renames: { [q]: target }, journal });
    expect(second.resumed).toBe(true);
    expect(second.alreadyRestored).toBeGreaterThan(0);
    expect(second.failed).toBe(0);
    const got = await bodies(target);
    const counts = new Map<string, number>();
    for (const x of got) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect(range(q, n).filter((x) => !counts.has(x))).toEqual([]);
    const duplicates = got.length - counts.size;
    expect(duplicates).toBeLessThanOrEqual(DEFAULT_WINDOW); // the publisher's unconfirmed window
    // order: the first occurrences keep the backup's order
    expect([...counts.keys()]).toEqual(range(q, n));

    // a finished restore is not resumed: running it again restores everything again
    const third = await restoreOf({ backupId: b.backups[0]!.manifest.id, renames: { [q]: target }, journal });
    expect(third.resumed).toBe(false);
    expect(third.restored).toBe(n);
  });

  it('stream queue: incremental by offset, restored with offset runs', async () => {
    const q = uniqueName('events');
    await fill(q, { 'x-queue-type': 'stream' }, 12);
    const b1 = await backupOf({ queues: [q] });
    expect(b1.backups[0]!.manifest.streams[0]).toMatchObject({ from: '0', to: '12', records: 12, address: { queueType: 'stream' } });
    await fill(q, { 'x-queue-type': 'stream' }, 3);
    const b2 = await backupOf({ queues: [q] });
    expect(b2.backups[0]!.manifest).toMatchObject({ kind: 'incremental' });
    expect(b2.backups[0]!.manifest.streams[0]).toMatchObject({ from: '12', to: '15', records: 3 });
    const recs = await records(b2.backups[0]!.manifest.streams[0]!);
    expect(recs.map((x) => x.position)).toEqual([12n, 13n, 14n]);
    expect(recs.every((x) => !amqpMetaOf(x).properties.headers?.some((h) => h.name === 'x-stream-offset'))).toBe(true);

    const target = uniqueName('events-copy');
    await fill(target, { 'x-queue-type': 'stream' }, 2); // already holds offsets 0 and 1
    const rr = await restoreOf({ backupId: b2.backups[0]!.manifest.id, renames: { [q]: target } });
    expect(rr).toMatchObject({ restored: 15, failed: 0 });
    // one run: source offsets 0..14 landed on 2..16
    expect(rr.runs).toEqual([
      {
        stream: `rabbitmq/${encodeURIComponent(vhost)}/${q}`,
        source: { vhost, queue: q, queueType: 'stream' },
        target: { vhost, queue: target, queueType: 'stream' },
        sourceStart: 0n,
        sourceEnd: 14n,
        targetStart: 2n,
      },
    ]);
  });
});
