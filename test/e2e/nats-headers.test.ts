/**
 * A JetStream restore adds nothing to a message (docs/NATS.md, "What a restored message
 * carries"), through the binary against the real nats-server: header blocks byte for byte, a
 * source message's own Nats-Msg-Id included, also across a restore killed with SIGKILL and run
 * again (no duplicates without any id of mqbak's); and two source messages sharing a Nats-Msg-Id
 * that the target's duplicate window merges are a reported failure, retried by a rerun.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { natsUrl, uniqueName } from '../helpers/brokers.js';
import { bytes, createStream, publishRaw, useNatsConnection } from '../helpers/nats.js';
import { killMidway, mqbakJson, newStore, removeStores, streamMessages } from '../helpers/nats-e2e.js';
import { runMqbak } from '../helpers/run-mqbak.js';
import { rawHeaders, type NatsConnection } from '../../src/brokers/nats/index.js';

let conn: NatsConnection;
const streams: string[] = [];
useNatsConnection((c) => (conn = c), streams);
afterAll(removeStores);

async function stream(prefix: string, config: Record<string, unknown> = {}): Promise<string> {
  const name = await createStream(conn, prefix, config);
  streams.push(name);
  return name;
}

/** Backs up `src` into a new store; the arguments of its restore into a new stream, with a journal. */
async function backupThenRestoreArgs(src: string): Promise<{ dst: string; args: string[] }> {
  const url = natsUrl();
  const store = await newStore();
  await mqbakJson(['backup', url, store, '--streams', src]);
  const dst = uniqueName(`${src}-copy`);
  streams.push(dst);
  const journal = `${await newStore()}/journal.json`;
  return { dst, args: ['restore', store, url, '--map', `${src}=${dst}`, '--subject-map', `${src}.>=${dst}.>`, '--journal', journal] };
}

/** Header blocks as clients write them; <i> becomes the message's number. */
const BLOCKS: Array<string | undefined> = [
  'NATS/1.0\r\nNats-Msg-Id: src-<i>\r\n\r\n',
  undefined,
  'NATS/1.0\r\nA: 1\r\nNats-Msg-Id: src-<i>\r\nA: 2\r\n\r\n',
  'NATS/1.0\r\nlower: v\r\nEmpty: \r\n\r\n',
];

/** Publishes n messages with the blocks above, 128 acknowledgements awaited at once. */
async function publishWithBlocks(subject: string, n: number): Promise<void> {
  const inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    const block = BLOCKS[i % BLOCKS.length]?.replace('<i>', String(i));
    const opts = { timeout: 10_000, ...(block ? { headers: rawHeaders(bytes(block)) } : {}) };
    inFlight.push(
      conn.nc.request(subject, bytes(`m${i}`), opts).then((r) => {
        const ack = JSON.parse(new TextDecoder().decode(r.data)) as { seq?: number; duplicate?: boolean };
        if (typeof ack.seq !== 'number' || ack.duplicate) throw new Error(`publish ${i}: ${JSON.stringify(ack)}`);
      }),
    );
    if (inFlight.length >= 128) await inFlight.shift();
  }
  await Promise.all(inFlight);
}

interface RestoreJson {
  restored: number;
  failed: number;
  resumed?: boolean;
  streams: Array<{ restored: number; failed: number; failures: string[] }>;
}

describe('NATS restore: the messages as they were', () => {
  it('a restore killed with SIGKILL and run again: each message once, in order, its header block byte for byte (its own Nats-Msg-Id included)', async () => {
    const src = await stream('hk');
    const n = 30_000;
    await publishWithBlocks(`${src}.x`, n);
    const before = await streamMessages(conn, src);
    expect(before).toHaveLength(n);
    expect(before[2]!.block).toBe('NATS/1.0\r\nA: 1\r\nNats-Msg-Id: src-2\r\nA: 2\r\n\r\n');
    const { dst, args } = await backupThenRestoreArgs(src);
    await killMidway(args, async () => {
      const info = await conn.jsm.streams.info(dst).catch(() => null);
      return info !== null && info.state.messages > n / 4;
    });
    expect((await conn.jsm.streams.info(dst)).state.messages).toBeLessThan(n);
    const r = await mqbakJson<RestoreJson>(args);
    expect(r.resumed).toBe(true);
    expect(r.failed).toBe(0);
    const after = await streamMessages(conn, dst);
    expect(after).toHaveLength(n);
    expect(after.map((m) => m.seq)).toEqual(before.map((m) => m.seq));
    expect(after.map((m) => m.data)).toEqual(before.map((m) => m.data));
    expect(after.map((m) => m.block)).toEqual(before.map((m) => m.block));
    expect(new Set(after.map((m) => m.subject))).toEqual(new Set([`${dst}.x`]));
  }, 180_000);

  it("two source messages sharing a Nats-Msg-Id, merged by the target's duplicate window: the second is a reported failure (exit 3), stored by a rerun", async () => {
    // a short duplicate window lets the source keep both; the target is created with the same window
    const src = await stream('hd', { duplicate_window: 200_000_000 });
    const block = bytes('NATS/1.0\r\nNats-Msg-Id: same\r\n\r\n');
    await publishRaw(conn, `${src}.x`, bytes('first'), block);
    await new Promise((r) => setTimeout(r, 400));
    await publishRaw(conn, `${src}.x`, bytes('second'), block);
    await publishRaw(conn, `${src}.x`, bytes('third'));
    const { dst, args } = await backupThenRestoreArgs(src);
    const first = await runMqbak([...args, '--json']);
    expect(first.code, first.stderr).toBe(3);
    const out = JSON.parse(first.stdout) as RestoreJson;
    expect(out.failed).toBe(1);
    expect(out.streams[0]!.failures.join('\n')).toMatch(/duplicate of its message 1 .*Nats-Msg-Id/);
    expect((await streamMessages(conn, dst)).map((m) => m.data)).toEqual(['first', 'third']);
    // past the window, the rerun stores it (after the messages already there)
    await new Promise((r) => setTimeout(r, 400));
    const again = await mqbakJson<RestoreJson>(args);
    expect(again.failed).toBe(0);
    const after = await streamMessages(conn, dst);
    expect(after.map((m) => m.data)).toEqual(['first', 'third', 'second']);
    expect(after.map((m) => m.block)).toEqual(['NATS/1.0\r\nNats-Msg-Id: same\r\n\r\n', '', 'NATS/1.0\r\nNats-Msg-Id: same\r\n\r\n']);
  }, 60_000);
});
