/**
 * The JetStream drain against the real server, at the moment the core pipeline cannot be made to
 * stop at on purpose: a checkpoint committed (its `to` known to the next run) but not settled.
 * The next run acknowledges those messages without archiving them again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRecordSink } from '../../../contract/broker-contract.js';
import { natsUrl, uniqueName } from '../../../helpers/brokers.js';
import { natsConnect, publishMany } from '../../../helpers/nats.js';
import type { AdapterContext, BrokerSource } from '../../../../src/brokers/adapter.js';
import { adapter, type NatsConnection } from '../../../../src/brokers/nats/index.js';
import { silentProgress } from '../../../../src/common/progress.js';

let conn: NatsConnection;
const ctx = (): AdapterContext => ({ signal: new AbortController().signal, progress: silentProgress, debug: false, env: {}, zstd: async () => (b) => b });

beforeAll(async () => {
  conn = await natsConnect();
});
afterAll(async () => {
  await conn.close();
});

async function drainOnce(stream: string, from: bigint, limit: number, settle: boolean): Promise<{ out: MemoryRecordSink; to: bigint }> {
  const source: BrokerSource = await adapter.openSource(natsUrl(), { streams: [stream], mode: 'drain' }, ctx());
  try {
    const sel = await source.select();
    const out = new MemoryRecordSink();
    const r = await source.read([{ stream: sel.streams[0]!, from, out }], { signal: new AbortController().signal, limit });
    if (settle) await r.settle?.();
    return { out, to: r.to.get(sel.streams[0]!.name)! };
  } finally {
    await source.close();
  }
}

describe('JetStream drain', () => {
  it('a checkpoint committed but never settled is acknowledged by the next run, not archived again', async () => {
    const stream = uniqueName('drain');
    await conn.jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: 'workqueue' as never });
    try {
      await publishMany(conn, `${stream}.x`, 10, (i) => `j${i}`);
      // run 1: the first 4, "committed" (the next run starts at its `to`), then killed before settling
      const first = await drainOnce(stream, 0n, 4, false);
      expect(first.out.records.map((r) => r.position)).toEqual([1n, 2n, 3n, 4n]);
      expect(first.to).toBe(5n);
      expect((await conn.jsm.streams.info(stream)).state.messages).toBe(10);
      // run 2 from 5: 1..4 come back, acknowledged but not archived; 5..10 archived
      const second = await drainOnce(stream, first.to, 100, true);
      expect(second.out.records.map((r) => new TextDecoder().decode(r.value!))).toEqual(['j4', 'j5', 'j6', 'j7', 'j8', 'j9']);
      expect(second.out.extra.alreadyArchived).toBe(4);
      expect(second.out.gaps).toEqual([]);
      expect((await conn.jsm.streams.info(stream)).state.messages).toBe(0);
    } finally {
      await conn.jsm.streams.delete(stream).catch(() => undefined);
    }
  });
});
