/**
 * The Kafka sink (src/brokers/kafka/sink.ts, stream-writer.ts) against the test broker, beyond the
 * contract suites: target topics created from the saved metadata, the non-empty refusal and
 * --allow-nonempty, kafkajs' producer (MQBAK_KAFKA_PRODUCER=kafkajs), a write larger than one
 * request, small writes gathered into one request, and consumer group offsets translated and
 * committed by finish().
 */
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { AdapterContext, AdapterOptionValues, OffsetRun, PlannedTarget, SinkPlan } from '../../../../src/brokers/adapter.js';
import { adapter } from '../../../../src/brokers/kafka/index.js';
import { loadZstdDecompressor } from '../../../../src/archive/codec.js';
import { silentProgress } from '../../../../src/common/progress.js';
import { columnsOf, type ArchiveRecord } from '../../../../src/common/record.js';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../../../helpers/brokers.js';

const url = (): string => `kafka://${kafkaBrokers().join(',')}`;
const kafka = (): Kafka => new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('sink-test'), logLevel: logLevel.NOTHING });
const ctx = (env: Record<string, string> = {}): AdapterContext => ({ signal: new AbortController().signal, progress: silentProgress, debug: false, env, zstd: () => loadZstdDecompressor() });
const signal = () => new AbortController().signal;

/** Records at source offsets first, first + 1, ... with values "<offset>" (big ones when `size`). */
function records(first: number, count: number, size = 0): ArchiveRecord[] {
  return Array.from({ length: count }, (_, i) => ({
    position: BigInt(first + i),
    timestamp: 1_700_000_000_000 + i,
    timestampType: 'create' as const,
    key: Buffer.from(`k${first + i}`),
    value: Buffer.from(`${first + i}`.padEnd(size, '.')),
    headers: [{ name: 'h', value: null }],
    attributes: null,
  }));
}

function plan(source: string, target: string, partitions: number, groups: Record<string, unknown> = {}): SinkPlan {
  const targets: PlannedTarget[] = Array.from({ length: partitions }, (_, p) => ({
    name: `kafka/${source}/${p}`,
    source: { topic: source, partition: p },
    target: { topic: target, partition: p },
    records: 0,
    from: 0n,
    to: 0n,
  }));
  return { backupId: 'B', metadata: { topics: { [source]: { partitions, replicationFactor: 1, configs: { 'retention.ms': '86400000' } } }, groups }, renames: { [source]: target }, targets };
}

/** Offset and value of every record of a partition. */
async function readBack(topic: string, partition: number): Promise<string[]> {
  const admin = kafka().admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === partition)!.high);
  await admin.disconnect();
  const out: string[] = [];
  if (high === 0) return out;
  const c = kafka().consumer({ groupId: uniqueName('sink-read'), maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void c.run({
      eachMessage: async ({ partition: p, message }) => {
        if (p !== partition) return;
        out.push(`${message.offset}:${message.value!.toString().replace(/\.+$/, '')}`);
        if (Number(message.offset) + 1 >= high) resolve();
      },
    });
  });
  await c.disconnect();
  return out;
}

async function restore(p: SinkPlan, options: AdapterOptionValues, env: Record<string, string>, data: ArchiveRecord[][]) {
  adapter.checkRestore(url(), options, env);
  const sink = await adapter.openSink(url(), options, ctx(env));
  try {
    await sink.prepare(p, null, signal());
    const runs: OffsetRun[] = [];
    let written = 0;
    for (const t of p.targets) {
      const w = await sink.openStream(t, null, signal());
      const recs = data[(t.target as { partition: number }).partition]!;
      written += (await w.write([{ cols: columnsOf(recs), from: 0, to: recs.length }], signal())).written;
      // the end of the stream: what the writer held back to fill a request goes out
      written += (await w.write([], signal())).written;
      runs.push(...(await w.close()));
    }
    return { parallelism: sink.parallelism, written, runs, finish: await sink.finish(runs, signal()) };
  } finally {
    await sink.close();
  }
}

describe('kafka sink', () => {
  it("creates the target topic from the metadata and writes through mqbak's producer and kafkajs'", async () => {
    for (const env of [{}, { MQBAK_KAFKA_PRODUCER: 'kafkajs' }] as Array<Record<string, string>>) {
      const source = uniqueName('sink-src');
      const target = uniqueName('sink-dst');
      const data = [records(0, 30), records(5, 3)];
      const r = await restore(plan(source, target, 2), {}, env, data);
      expect(r.parallelism).toBe(env.MQBAK_KAFKA_PRODUCER ? 1 : 3);
      expect(r.written).toBe(33);
      expect(r.runs.map((x) => [x.stream, x.sourceStart, x.sourceEnd, x.targetStart])).toEqual([
        [`kafka/${source}/0`, 0n, 29n, 0n],
        [`kafka/${source}/1`, 5n, 7n, 0n],
      ]);
      expect(r.finish.json).toEqual({ topics: { [target]: 33 }, groups: [] });
      expect(await readBack(target, 1)).toEqual(['0:5', '1:6', '2:7']);
      const admin = kafka().admin();
      await admin.connect();
      const md = await admin.fetchTopicMetadata({ topics: [target] });
      await admin.disconnect();
      expect(md.topics[0]!.partitions).toHaveLength(2);
    }
  });

  it('a write of about 3 MB (more than one request) lands whole and in order', async () => {
    const source = uniqueName('sink-big');
    const target = uniqueName('sink-big-dst');
    // 3,000 records of 1 KB: about 3 MB, so at least three produce requests
    const data = [records(100, 3000, 1000)];
    const r = await restore(plan(source, target, 1), {}, {}, data);
    expect(r.written).toBe(3000);
    expect(r.runs.map((x) => [x.sourceStart, x.sourceEnd, x.targetStart])).toEqual([[100n, 3099n, 0n]]);
    const back = await readBack(target, 0);
    expect(back).toHaveLength(3000);
    expect(back[2999]).toBe('2999:3099');
  });

  it("a small write's records wait for the next write only: they go out with it, the last ones with the empty write that ends the stream", async () => {
    const source = uniqueName('sink-hold');
    const target = uniqueName('sink-hold-dst');
    const p = plan(source, target, 1);
    const sink = await adapter.openSink(url(), {}, ctx());
    try {
      await sink.prepare(p, null, signal());
      const w = await sink.openStream(p.targets[0]!, null, signal());
      const writes = [0, 10, 20].map((first) => {
        const recs = records(first, 10);
        return w.write([{ cols: columnsOf(recs), from: 0, to: recs.length }], signal());
      });
      const acks = await Promise.all([...writes, w.write([], signal())]);
      // the first write's 10 wait for the second, which sends them with its own; the third's 10
      // wait for the empty write (a block's bytes are then free once the write after it settled)
      expect(acks.map((a) => a.written)).toEqual([0, 20, 0, 10]);
      expect((await w.close()).map((x) => [x.sourceStart, x.sourceEnd, x.targetStart])).toEqual([[0n, 29n, 0n]]);
    } finally {
      await sink.close();
    }
    expect(await readBack(target, 0)).toHaveLength(30);
  });

  it('refuses a non-empty target unless allowed; translates and commits a saved group offset', async () => {
    const source = uniqueName('sink-grp');
    const target = uniqueName('sink-grp-dst');
    const group = uniqueName('billing');
    await kafkaCreateTopic(target, 1);
    const p = kafka().producer();
    await p.connect();
    await p.send({ topic: target, messages: Array.from({ length: 5 }, (_, i) => ({ value: `pre${i}` })) });
    await p.disconnect();
    const thePlan = plan(source, target, 1, { [group]: { [source]: { '0': '7' } } });
    const data = [records(0, 20)];
    await expect(restore(thePlan, { groups: [group] }, {}, data)).rejects.toMatchObject({ code: 'usage', message: `target partition ${target}[0] already holds data (end offset 5)` });
    const r = await restore(thePlan, { groups: [group], allowNonempty: true }, {}, data);
    expect(r.runs.map((x) => [x.sourceStart, x.sourceEnd, x.targetStart])).toEqual([[0n, 19n, 5n]]);
    expect(r.finish.lines).toEqual([`group ${group}: ${target}[0] committed 7 -> 12`]);
    expect(r.finish.json.groups).toEqual([{ group, topic: source, targetTopic: target, partition: 0, committed: '7', target: '12' }]);
    const admin = kafka().admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: group, topics: [target] });
    await admin.disconnect();
    expect(committed[0]!.partitions[0]!.offset).toBe('12');
  });
});
