/**
 * NATS JetStream backup and restore through the mqbak binary against the real nats-server: a
 * round trip under a new name byte-identical (subjects, header blocks, data, order), a full then
 * an incremental with a deleted message as a gap, a backup under a running publisher ending at
 * its cut, a work-queue drain killed with SIGKILL and run again (nothing lost, nothing twice), a
 * restore killed and run again (no duplicates), a durable consumer resuming at the first message
 * it had not acknowledged, and messages whose subject the target does not take (exit 3).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName } from '../helpers/brokers.js';
import { bytes, natsConnect, publishMany, publishRaw } from '../helpers/nats.js';
import { killMidway, mqbakJson, newStore, removeStores, storeFiles, storeValues, streamMessages } from '../helpers/nats-e2e.js';
import { runMqbak } from '../helpers/run-mqbak.js';
import type { NatsConnection } from '../../src/brokers/nats/index.js';

let conn: NatsConnection;
const streams: string[] = [];
let url: string;

beforeAll(async () => {
  conn = await natsConnect();
  url = natsUrl();
});

afterAll(async () => {
  for (const s of streams) await conn.jsm.streams.delete(s).catch(() => undefined);
  await conn.close();
  await removeStores();
});

/** A new stream on <name>.>; `config` overrides. */
async function stream(prefix: string, config: Record<string, unknown> = {}): Promise<string> {
  const name = uniqueName(prefix);
  await conn.jsm.streams.add({ name, subjects: [`${name}.>`], ...config });
  streams.push(name);
  return name;
}

interface BackupJson {
  id: string;
  kind: string;
  parent: string | null;
  records: number;
  backups: string[];
  streams: Array<{ name: string; from: string; to: string; records: number; gaps: Array<{ from: string; to: string }>; acked: number }>;
}

interface RestoreJson {
  restored: number;
  failed: number;
  streams: Array<{ restored: number; failed: number; failures: string[] }>;
  consumers: Array<{ name: string; startSeq: string; created: boolean }>;
}

describe('NATS JetStream through the binary', () => {
  it('round trip under a new name: subjects, header blocks (repeated names, order, odd bytes), data and order byte-identical', async () => {
    const src = await stream('rt');
    const blocks = [
      undefined,
      'NATS/1.0\r\nA: 1\r\nB: 2\r\nA: 3\r\n\r\n',
      'NATS/1.0\r\nlower-case: v\r\nSpaces:   inside  \r\nEmpty: \r\nBare\r\n\r\n',
      `NATS/1.0\r\nBin: ${String.fromCharCode(0xff, 0xfe, 0x80)}\r\n\r\n`,
      'NATS/1.0\r\nX: 1\r\nNats-Msg-Id: own-<i>\r\n\r\n', // the source's own dedup id, one per message
    ];
    for (let i = 0; i < 40; i++) {
      const data = i % 5 === 0 ? new Uint8Array(0) : bytes(`${i}:${String.fromCharCode(0, 255, 10, 13)}${'x'.repeat(i * 37)}`);
      const block = blocks[i % blocks.length]?.replace('<i>', String(i));
      await publishRaw(conn, `${src}.${['a', 'b.c', 'd.e.f'][i % 3]}`, data, block === undefined ? undefined : bytes(block));
    }
    const before = await streamMessages(conn, src);
    const store = await newStore();
    const b = await mqbakJson<BackupJson>(['backup', url, store, '--streams', src]);
    expect(b.records).toBe(40);
    expect((await runMqbak(['verify', store])).code).toBe(0);
    // same subjects under a new name: the source stream must go first (two streams cannot share subjects)
    await conn.jsm.streams.delete(src);
    const dst = uniqueName('rt-copy');
    streams.push(dst);
    const r = await mqbakJson<RestoreJson>(['restore', store, url, '--map', `${src}=${dst}`]);
    expect(r.restored).toBe(40);
    const after = await streamMessages(conn, dst);
    expect(after.map((m) => m.subject)).toEqual(before.map((m) => m.subject));
    expect(after.map((m) => m.data)).toEqual(before.map((m) => m.data));
    // the header blocks byte for byte: nothing added, nothing moved
    expect(after.map((m) => m.block)).toEqual(before.map((m) => m.block));
    expect((await conn.jsm.streams.info(dst)).config.subjects).toEqual([`${src}.>`]);
  });

  it('a full backup then an incremental continuing at its end, a deleted message a gap; the chain restores in order', async () => {
    const src = await stream('inc');
    await publishMany(conn, `${src}.x`, 30, (i) => `v${i}`);
    const store = await newStore();
    const full = await mqbakJson<BackupJson>(['backup', url, store, '--streams', src]);
    expect(full.kind).toBe('full');
    expect(full.streams[0]).toMatchObject({ from: '1', to: '31', records: 30 });
    await publishMany(conn, `${src}.x`, 20, (i) => `v${30 + i}`);
    await conn.jsm.streams.deleteMessage(src, 40);
    const inc = await mqbakJson<BackupJson>(['backup', url, store, '--streams', src]);
    expect(inc.kind).toBe('incremental');
    expect(inc.parent).toBe(full.id);
    expect(inc.streams[0]).toMatchObject({ from: '31', to: '51', records: 19 });
    expect(inc.streams[0]!.gaps).toEqual([expect.objectContaining({ from: '40', to: '41' })]);
    const dst = uniqueName('inc-copy');
    streams.push(dst);
    const map = `${(await newStore())}/map.jsonl`;
    const r = await mqbakJson<RestoreJson>(['restore', store, url, '--map', `${src}=${dst}`, '--subject-map', `${src}.>=${dst}.>`, '--offset-map', map]);
    expect(r.restored).toBe(49);
    const after = await streamMessages(conn, dst);
    const expected = Array.from({ length: 50 }, (_, i) => `v${i}`).filter((v) => v !== 'v39');
    expect(after.map((m) => m.data)).toEqual(expected);
    expect(new Set(after.map((m) => m.subject))).toEqual(new Set([`${dst}.x`]));
  });

  it('a backup while a publisher keeps writing ends at the sequence noted at its start', async () => {
    const src = await stream('load');
    await publishMany(conn, `${src}.x`, 5000, (i) => `v${i}`);
    let stop = false;
    let published = 0;
    const publisher = (async () => {
      while (!stop) {
        await publishMany(conn, `${src}.x`, 200, (i) => `late${published + i}`);
        published += 200;
      }
    })();
    const store = await newStore();
    let b: BackupJson;
    try {
      b = await mqbakJson<BackupJson>(['backup', url, store, '--streams', src]);
    } finally {
      stop = true;
      await publisher;
    }
    const s = b.streams[0]!;
    const last = (await conn.jsm.streams.info(src)).state.last_seq;
    expect(published).toBeGreaterThan(0);
    expect(Number(s.to)).toBeGreaterThan(5000);
    expect(Number(s.to) - 1).toBeLessThan(last); // the publisher went on after the cut
    expect(s.records).toBe(Number(s.to) - Number(s.from));
    expect(s.gaps).toEqual([]);
    const values = await storeValues(store);
    expect(values).toHaveLength(s.records);
    expect(values.slice(0, 5000)).toEqual(Array.from({ length: 5000 }, (_, i) => `v${i}`));
  });

  it('a work-queue drain killed with SIGKILL after a checkpoint committed, then run again: every message archived once, the stream empty', async () => {
    const src = await stream('wq', { retention: 'workqueue' });
    const n = 12_000;
    await publishMany(conn, `${src}.jobs`, n, (i) => `job${i}`);
    const store = await newStore();
    // mirror would remove messages: refused
    const refused = await runMqbak(['backup', url, store, '--streams', src]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/work queue/);
    expect(refused.stderr).toMatch(/hint: .*--mode drain/);
    const args = ['backup', url, store, '--streams', src, '--mode', 'drain', '--checkpoint', '1500'];
    await killMidway(args, async () => (await storeFiles(store)).some((f) => f.includes('/manifests/')));
    const left = (await conn.jsm.streams.info(src)).state.messages;
    expect(left).toBeGreaterThan(0); // the kill landed before the end
    const again = await mqbakJson<BackupJson>(args);
    expect(again.streams[0]!.gaps).toEqual([]);
    expect((await conn.jsm.streams.info(src)).state.messages).toBe(0);
    const values = await storeValues(store);
    expect(values).toHaveLength(n);
    expect(values).toEqual(Array.from({ length: n }, (_, i) => `job${i}`));
  }, 180_000);

  it('a restore killed with SIGKILL and run again: every message once, in order', async () => {
    const src = await stream('rk');
    const n = 50_000;
    await publishMany(conn, `${src}.x`, n, (i) => `m${i}`);
    const store = await newStore();
    await mqbakJson<BackupJson>(['backup', url, store, '--streams', src]);
    const dst = uniqueName('rk-copy');
    streams.push(dst);
    const journal = `${await newStore()}/journal.json`;
    const args = ['restore', store, url, '--map', `${src}=${dst}`, '--subject-map', `${src}.>=${dst}.>`, '--journal', journal];
    await killMidway(args, async () => {
      const info = await conn.jsm.streams.info(dst).catch(() => null);
      return info !== null && info.state.messages > n / 4;
    });
    const landed = (await conn.jsm.streams.info(dst)).state.messages;
    expect(landed).toBeLessThan(n);
    const r = await mqbakJson<RestoreJson & { resumed: boolean; alreadyRestored: number }>(args);
    expect(r.resumed).toBe(true);
    expect(r.failed).toBe(0);
    const after = await streamMessages(conn, dst);
    expect(after).toHaveLength(n);
    expect(after.map((m) => m.data)).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
  }, 180_000);

  it('a durable consumer restored with --definitions resumes at the first message it had not acknowledged', async () => {
    const src = await stream('dc');
    await publishMany(conn, `${src}.x`, 10, (i) => `v${i}`);
    await conn.jsm.streams.deleteMessage(src, 2); // target sequences shift by one after it
    await conn.jsm.consumers.add(src, { durable_name: 'worker', ack_policy: 'explicit' as never });
    const c = await conn.js.consumers.get(src, 'worker');
    const got = await c.fetch({ max_messages: 5 });
    for await (const m of got) {
      if (m.seq <= 4) await m.ackAck();
      if (m.seq >= 6) break; // 5 and 6 delivered, not acknowledged
    }
    const store = await newStore();
    await mqbakJson<BackupJson>(['backup', url, store, '--streams', src]);
    const dst = uniqueName('dc-copy');
    streams.push(dst);
    const r = await mqbakJson<RestoreJson>(['restore', store, url, '--map', `${src}=${dst}`, '--subject-map', `${src}.>=${dst}.>`, '--definitions']);
    // source 1, 3, 4, 5... land at 1, 2, 3, 4...: acknowledged through 4 -> starts at target 4 (source 5)
    expect(r.consumers).toEqual([expect.objectContaining({ name: 'worker', startSeq: '4', created: true })]);
    const restored = await conn.js.consumers.get(dst, 'worker');
    const next = await restored.next({ expires: 5000 });
    expect(next).not.toBeNull();
    expect(Buffer.from(next!.data).toString()).toBe('v4');
    expect(next!.subject).toBe(`${dst}.x`);
  });

  it('an interest stream keeps, restored with --definitions, what its consumer had not acknowledged', async () => {
    const src = await stream('int', { retention: 'interest' });
    await conn.jsm.consumers.add(src, { durable_name: 'reader', ack_policy: 'explicit' as never });
    await publishMany(conn, `${src}.x`, 6, (i) => `v${i}`);
    const got = await (await conn.js.consumers.get(src, 'reader')).fetch({ max_messages: 3 });
    for await (const m of got) {
      await m.ackAck();
      if (m.seq === 3) break;
    }
    const store = await newStore();
    expect((await mqbakJson<BackupJson>(['backup', url, store, '--streams', src])).records).toBe(3);
    const dst = uniqueName('int-copy');
    streams.push(dst);
    await mqbakJson<RestoreJson>(['restore', store, url, '--map', `${src}=${dst}`, '--subject-map', `${src}.>=${dst}.>`, '--definitions']);
    expect((await streamMessages(conn, dst)).map((m) => m.data)).toEqual(['v3', 'v4', 'v5']);
    expect((await conn.jsm.consumers.list(dst).next()).filter((c) => c.config.durable_name).map((c) => c.name)).toEqual(['reader']);
    const next = await (await conn.js.consumers.get(dst, 'reader')).next({ expires: 5000 });
    expect(Buffer.from(next!.data).toString()).toBe('v3');
  });

  it('messages whose subject the existing target stream does not take are reported failures (exit 3), retried by a rerun', async () => {
    const src = await stream('subj');
    await publishMany(conn, `${src}.keep`, 5);
    await publishMany(conn, `${src}.other`, 3);
    const store = await newStore();
    await mqbakJson<BackupJson>(['backup', url, store, '--streams', src]);
    const dst = await stream('subj-target', {});
    await conn.jsm.streams.update(dst, { ...(await conn.jsm.streams.info(dst)).config, subjects: [`${dst}.keep`] });
    const r = await runMqbak(['restore', store, url, '--map', `${src}=${dst}`, '--subject-map', `${src}.*=${dst}.*`, '--json']);
    expect(r.code).toBe(3);
    const j = JSON.parse(r.stdout) as RestoreJson;
    expect(j).toMatchObject({ restored: 5, failed: 3 });
    expect(j.streams[0]!.failures[0]).toMatch(/is not among the subjects of stream/);
    expect((await conn.jsm.streams.info(dst)).state.messages).toBe(5);
    // the target now takes them: the same restore run again retries exactly the failures
    await conn.jsm.streams.update(dst, { ...(await conn.jsm.streams.info(dst)).config, subjects: [`${dst}.keep`, `${dst}.other`] });
    const again = await runMqbak(['restore', store, url, '--map', `${src}=${dst}`, '--subject-map', `${src}.*=${dst}.*`, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ resumed: true, restored: 3, failed: 0, alreadyRestored: 5 });
    expect((await streamMessages(conn, dst)).map((m) => m.subject)).toEqual([...Array(5).fill(`${dst}.keep`), ...Array(3).fill(`${dst}.other`)]);
  });
});
