/**
 * The Kafka source (src/brokers/kafka/source.ts) against the test broker, beyond the contract
 * suites: kafkajs' consumer as the reader (MQBAK_KAFKA_CONSUMER=kafkajs) reads the same records,
 * topic selection by --topic-regex, the metadata (configs, group offsets), and a read from before
 * the first offset becoming a retention gap with its warning.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdapterContext, AdapterOptionValues, BrokerSource, SourceSelection } from '../../../../src/brokers/adapter.js';
import { adapter } from '../../../../src/brokers/kafka/index.js';
import { loadZstdDecompressor } from '../../../../src/archive/codec.js';
import { silentProgress } from '../../../../src/common/progress.js';
import { MemoryRecordSink } from '../../../contract/broker-contract.js';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../../../helpers/brokers.js';

const url = (): string => `kafka://${kafkaBrokers().join(',')}`;
const kafka = (): Kafka => new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('source-test'), logLevel: logLevel.NOTHING });
const ctx = (env: Record<string, string> = {}): AdapterContext => ({ signal: new AbortController().signal, progress: silentProgress, debug: false, env, zstd: () => loadZstdDecompressor() });

async function withSource<T>(options: AdapterOptionValues, env: Record<string, string>, use: (s: BrokerSource) => Promise<T>): Promise<T> {
  adapter.checkBackup(url(), options, env);
  const s = await adapter.openSource(url(), options, ctx(env));
  try {
    return await use(s);
  } finally {
    await s.close();
  }
}

async function readAll(s: BrokerSource, sel: SourceSelection, from?: (start: bigint) => bigint) {
  const requests = sel.streams.map((stream) => ({ stream, from: from ? from(stream.start!) : stream.start!, out: new MemoryRecordSink() }));
  const outcome = await s.read(requests, { signal: new AbortController().signal });
  return { requests, outcome };
}

describe('kafka source', () => {
  const topic = uniqueName('src');
  const group = uniqueName('src-group');
  beforeAll(async () => {
    await kafkaCreateTopic(topic, 2);
    const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    await p.send({ topic, acks: -1, messages: Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, key: `k${i}`, value: `v${i}`, headers: { h: `${i}` } })) });
    await p.disconnect();
    const admin = kafka().admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 1, offset: '4' }] });
    await admin.disconnect();
  });
  afterAll(() => {});

  it("reads the same records through mqbak's Fetch reader and kafkajs' consumer", async () => {
    const values: string[][] = [];
    const types: unknown[][] = [];
    for (const env of [{}, { MQBAK_KAFKA_CONSUMER: 'kafkajs' }] as Array<Record<string, string>>) {
      await withSource({ topics: [topic] }, env, async (s) => {
        const sel = await s.select();
        expect(sel.streams.map((x) => [x.name, x.address, x.start, x.end])).toEqual([
          [`kafka/${topic}/0`, { topic, partition: 0 }, 0n, 10n],
          [`kafka/${topic}/1`, { topic, partition: 1 }, 0n, 10n],
        ]);
        expect(sel.chainKey).toMatch(new RegExp(`^kafka:.+:${topic}$`));
        // the topic id (Metadata v10) is each stream's lineage, whichever reader reads
        expect(new Set(sel.streams.map((x) => x.lineage))).toHaveProperty('size', 1);
        expect(sel.streams[0]!.lineage).toMatch(/^[0-9a-f]{32}$/);
        const { requests, outcome } = await readAll(s, sel);
        expect([...outcome.to.values()]).toEqual([10n, 10n]);
        // every partition was ended (told to the sink) once read to its cut, and nothing came after
        expect(requests.map((r) => [r.out.ended, r.out.records.length])).toEqual([
          [true, 10],
          [true, 10],
        ]);
        // kafkajs' consumer does not tell the timestamp type: which reader ran shows here
        types.push([...new Set(requests.flatMap((r) => r.out.records.map((x) => x.timestampType)))]);
        values.push(requests.flatMap((r) => r.out.records.map((x) => `${x.position}:${Buffer.from(x.value!).toString()}:${x.headers.map((h) => `${h.name}=${Buffer.from(h.value!).toString()}`).join(',')}`)));
      });
    }
    expect(values[0]).toHaveLength(20);
    expect(values[1]).toEqual(values[0]);
    expect(types).toEqual([['create'], [null]]);
  });

  it('selects by --topic-regex, saves configs and group offsets as metadata', async () => {
    await withSource({ topicRegex: `^${topic}$`, groups: [group] }, {}, async (s) => {
      const sel = await s.select();
      expect(sel.streams).toHaveLength(2);
      const { metadata, warnings } = await s.metadata(sel);
      expect(warnings).toEqual([]);
      expect(metadata.topics).toEqual({ [topic]: { partitions: 2, replicationFactor: 1, configs: expect.anything() } });
      expect(metadata.groups).toEqual({ [group]: { [topic]: { '1': '4' } } });
    });
  });

  it('a topic that does not exist is not-found; a read from before the first offset is a retention gap', async () => {
    await expect(withSource({ topics: [uniqueName('none')] }, {}, (s) => s.select())).rejects.toMatchObject({ code: 'not-found' });
    await withSource({ topics: [topic] }, {}, async (s) => {
      const sel = await s.select();
      // as if the parent ended at -3 while the partition now starts at 0
      const { requests, outcome } = await readAll(s, sel, (start) => start - 3n);
      for (const r of requests) {
        expect(r.out.gaps).toEqual([{ from: -3n, to: 0n, reason: 'retention' }]);
        expect(r.out.warnings[0]).toMatch(/offsets -3\.\.-1 were deleted by retention before they were backed up/);
        expect(r.out.records).toHaveLength(10);
      }
      expect([...outcome.to.values()]).toEqual([10n, 10n]);
    });
  });
});
