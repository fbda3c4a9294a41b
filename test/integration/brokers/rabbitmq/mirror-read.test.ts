/**
 * The mirror's return: the channel is closed as soon as the last message of the cut has arrived,
 * so that the broker puts the messages back while mqbak still archives the last ones and commits
 * the backup; the source's close waits for the broker to have done it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryRecordSink } from '../../../contract/broker-contract.js';
import { rabbitManagementUrl, rabbitUrl, uniqueName } from '../../../helpers/brokers.js';
import type { AdapterContext } from '../../../../src/brokers/adapter.js';
import { adapter } from '../../../../src/brokers/rabbitmq/index.js';
import { queueDepth } from '../../../../src/brokers/rabbitmq/consumer.js';
import { silentProgress } from '../../../../src/common/progress.js';
import type { RecordColumns } from '../../../../src/common/record.js';
import { testVhost, type TestVhost } from './test-vhost.js';

let t: TestVhost;
const ctx = (): AdapterContext => ({ signal: new AbortController().signal, progress: silentProgress, debug: false, env: {}, zstd: async () => (b) => b });

beforeAll(async () => {
  t = await testVhost('rmq-mirror');
});

afterAll(async () => {
  await t?.close();
});

/** A sink that, when handed the cut's last record, waits until `check` says yes (or gives up after 5 s). */
class LastBatchSink extends MemoryRecordSink {
  seenAtLast: number | null = null;
  constructor(
    private readonly total: number,
    private readonly ready: () => Promise<number>,
  ) {
    super();
  }
  override async appendColumns(columns: RecordColumns): Promise<void> {
    await super.appendColumns(columns);
    if (this.records.length < this.total) return;
    const until = Date.now() + 5000;
    let n = await this.ready();
    while (n < this.total && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 50));
      n = await this.ready();
    }
    this.seenAtLast = n;
  }
}

describe('mirror read', () => {
  it('returns the messages to the queue while the last ones are still being archived; the source closes once they are back, in order', async () => {
    const q = uniqueName('ret');
    const n = 3000;
    await t.declare(q);
    await t.publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${i}`), options: { messageId: `${i}` } })));
    const source = await adapter.openSource(rabbitUrl(t.vhost), { managementUrl: rabbitManagementUrl(), queues: [q], mode: 'mirror' }, ctx());
    const sink = new LastBatchSink(n, async () => (await queueDepth(t.conn, q)).messages);
    try {
      const sel = await source.select();
      await source.read([{ stream: sel.streams[0]!, from: 0n, out: sink }], { signal: new AbortController().signal });
    } finally {
      await source.close();
    }
    // while the sink held the last batch, the broker had already put every message back (with
    // the channel closed only after the read, the queue showed none ready then)
    expect(sink.seenAtLast).toBe(n);
    expect(sink.records.map((r) => Buffer.from(r.value!).toString())).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    const back = await t.takeAll(q);
    expect(back.map((m) => m.content.toString())).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    expect(back.every((m) => m.fields.redelivered)).toBe(true);
  });
});
