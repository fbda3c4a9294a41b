/**
 * Proves the Kafka test broker's admin APIs (test/brokers/kafka-mock/patches), not mqbak: kafkajs
 * 2.2.4's admin client, unchanged, gets the answers a Kafka broker gives. Where kafkajs hides the
 * wire answer (ListOffsets "none found", OffsetCommit from outside the group) a few raw requests
 * check it. kcat (librdkafka) must still produce and consume.
 *
 * The assertions are Kafka's behaviour, not the mock's, so the file can run against a real Kafka
 * (docker-compose) too; it has only been run against the mock (1 and 3 brokers).
 */
import { CompressionTypes } from 'kafkajs';
import type { Admin, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../helpers/brokers.js';
import { CONFIG_SOURCE_TOPIC, CONFIG_SOURCE_DEFAULT, RESOURCE_TOPIC, kafka, waitFor, rejection, listOffsetV1 } from './helpers.js';

describe('Kafka test broker: admin APIs with kafkajs', () => {
  let admin: Admin;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    admin = kafka('mqbak-admin-test').admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await admin.disconnect();
  });

  async function producer(): Promise<Producer> {
    const p = kafka('mqbak-admin-test-producer').producer();
    await p.connect();
    cleanups.push(() => p.disconnect());
    return p;
  }

  async function partitionCount(topic: string): Promise<number> {
    const m = await admin.fetchTopicMetadata({ topics: [topic] });
    return m.topics[0]?.partitions.length ?? 0;
  }

  it('createTopics makes the asked partitions; describeConfigs returns the given configs and flags the defaults', async () => {
    const topic = uniqueName('admin-create');
    const created = await admin.createTopics({
      topics: [
        {
          topic,
          numPartitions: 3,
          replicationFactor: 1,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'max.message.bytes', value: '2097152' },
          ],
        },
      ],
    });
    expect(created).toBe(true);
    expect(await partitionCount(topic)).toBe(3);
    expect((await admin.listTopics()).includes(topic)).toBe(true);

    const { resources } = await admin.describeConfigs({
      resources: [{ type: RESOURCE_TOPIC, name: topic }],
      includeSynonyms: false,
    });
    expect(resources).toHaveLength(1);
    expect(resources[0]?.errorCode).toBe(0);
    const entries = new Map((resources[0]?.configEntries ?? []).map((e) => [e.configName, e]));
    for (const [name, value] of [
      ['retention.ms', '3600000'],
      ['cleanup.policy', 'compact'],
      ['max.message.bytes', '2097152'],
    ] as const) {
      expect(entries.get(name), name).toMatchObject({
        configValue: value,
        isDefault: false,
        configSource: CONFIG_SOURCE_TOPIC,
      });
    }
    // configs not given come back as defaults, with Kafka's default values
    for (const [name, value] of [
      ['compression.type', 'producer'],
      ['message.timestamp.type', 'CreateTime'],
      ['retention.bytes', '-1'],
      ['min.insync.replicas', '1'],
    ] as const) {
      expect(entries.get(name), name).toMatchObject({
        configValue: value,
        isDefault: true,
        configSource: CONFIG_SOURCE_DEFAULT,
      });
    }
    expect(entries.get('segment.bytes')?.isDefault).toBe(true);

    // asking for named configs returns only those
    const one = await admin.describeConfigs({
      resources: [{ type: RESOURCE_TOPIC, name: topic, configNames: ['cleanup.policy', 'segment.ms'] }],
      includeSynonyms: false,
    });
    const named = (one.resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue, e.isDefault]);
    expect(named.sort()).toEqual([
      ['cleanup.policy', 'compact', false],
      ['segment.ms', '604800000', true],
    ]);

    // an unknown topic is an error of that resource
    const missing = await admin
      .describeConfigs({ resources: [{ type: RESOURCE_TOPIC, name: uniqueName('admin-nope') }], includeSynonyms: false })
      .then(
        (r) => r.resources[0]?.errorCode,
        (e: { type?: string }) => e.type,
      );
    expect([3, 'UNKNOWN_TOPIC_OR_PARTITION']).toContain(missing);
  });

  it('createTopics: TOPIC_ALREADY_EXISTS on a duplicate, INVALID_CONFIG on a bad config, validateOnly creates nothing', async () => {
    const topic = uniqueName('admin-dup');
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] })).toBe(true);
    // kafkajs answers false exactly when every topic failed with TOPIC_ALREADY_EXISTS
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 5 }] })).toBe(false);
    expect(await partitionCount(topic)).toBe(2);

    const bad = uniqueName('admin-badcfg');
    const e = await rejection(
      admin.createTopics({
        topics: [
          { topic, numPartitions: 1 },
          { topic: bad, numPartitions: 1, configEntries: [{ name: 'retention.ms', value: 'soon' }] },
        ],
      }),
    );
    const types = ((e.errors as Array<{ type: string }> | undefined) ?? []).map((x) => x.type).sort();
    expect(types).toEqual(['INVALID_CONFIG', 'TOPIC_ALREADY_EXISTS']);
    expect((await admin.listTopics()).includes(bad)).toBe(false);

    const unknownCfg = await rejection(
      admin.createTopics({ topics: [{ topic: bad, configEntries: [{ name: 'no.such.config', value: '1' }] }] }),
    );
    expect(((unknownCfg.errors as Array<{ type: string }> | undefined) ?? []).map((x) => x.type)).toEqual(['INVALID_CONFIG']);

    const validated = uniqueName('admin-validate');
    await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: validated, numPartitions: 2 }] });
    expect((await admin.listTopics()).includes(validated)).toBe(false);
  });

  it('alterConfigs replaces the topic configs (the legacy, non-incremental semantics)', async () => {
    const topic = uniqueName('admin-alter');
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }],
    });
    await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: RESOURCE_TOPIC, name: topic, configEntries: [{ name: 'retention.ms', value: '7200000' }] }],
    });
    const { resources } = await admin.describeConfigs({
      resources: [{ type: RESOURCE_TOPIC, name: topic, configNames: ['retention.ms', 'cleanup.policy'] }],
      includeSynonyms: false,
    });
    const got = (resources[0]?.configEntries ?? []).map((e) => [e.configName, e.configValue, e.isDefault]).sort();
    expect(got).toEqual([
      ['cleanup.policy', 'delete', true],
      ['retention.ms', '7200000', false],
    ]);
    const bad = await rejection(
      admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: RESOURCE_TOPIC, name: topic, configEntries: [{ name: 'cleanup.policy', value: 'shred' }] }],
      }),
    );
    expect(bad.type).toBe('INVALID_CONFIG');
  });

  it('createPartitions raises the count and keeps the data; lowering it is INVALID_PARTITIONS', async () => {
    const topic = uniqueName('admin-parts');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const p = await producer();
    await p.send({ topic, acks: -1, messages: [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }, { partition: 1, value: 'c' }] });

    await admin.createPartitions({ topicPartitions: [{ topic, count: 5 }] });
    expect(await partitionCount(topic)).toBe(5);
    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    expect(offsets.map((o) => [o.partition, o.high])).toEqual([
      [0, '1'],
      [1, '2'],
      [2, '0'],
      [3, '0'],
      [4, '0'],
    ]);
    // the new partitions take writes (from a producer whose metadata is not older than them:
    // kafkajs drops messages for partitions its cached metadata does not have)
    const p2 = await producer();
    await p2.send({ topic, acks: -1, messages: [{ partition: 4, value: 'd' }] });
    expect((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 4)?.high).toBe('1');

    const e = await rejection(admin.createPartitions({ topicPartitions: [{ topic, count: 3 }] }));
    expect(e.type).toBe('INVALID_PARTITIONS');
    expect(await partitionCount(topic)).toBe(5);
  });

  it('deleteTopics removes the topic and its data; the name can be created afresh', async () => {
    const topic = uniqueName('admin-delete');
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const p = await producer();
    await p.send({ topic, acks: -1, messages: [{ partition: 0, value: 'x' }, { partition: 0, value: 'y' }] });

    await admin.deleteTopics({ topics: [topic] });
    await waitFor('the topic to disappear', async () => ((await admin.listTopics()).includes(topic) ? undefined : true));

    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] })).toBe(true);
    expect(await partitionCount(topic)).toBe(1);
    expect((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.low, o.high])).toEqual([[0, '0', '0']]);
  });

  it('deleteTopicRecords moves the low watermark; consumers start there', async () => {
    const topic = uniqueName('admin-delrec');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const p = await producer();
    for (let i = 0; i < 5; i++) await p.send({ topic, acks: -1, messages: [{ partition: 0, value: `v${i}` }] });
    // kafkajs looks the leaders up in its cached metadata: it must know the topic first
    await admin.fetchTopicMetadata({ topics: [topic] });

    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '3' }] });
    const offsets = (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition);
    expect(offsets.map((o) => [o.partition, o.low, o.high])).toEqual([
      [0, '3', '5'],
      [1, '0', '0'],
    ]);
    // a lower offset does not move it back
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '1' }] });
    expect((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0)?.low).toBe('3');

    // a short fetch wait: kafkajs stops a consumer only after its pending fetch returns
    const c = kafka('mqbak-admin-test-consumer').consumer({
      groupId: uniqueName('admin-delrec-g'),
      maxWaitTimeInMs: 100,
    });
    cleanups.push(() => c.disconnect());
    await c.connect();
    await c.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await c.run({
      eachMessage: async ({ partition, message }) => {
        seen.push(`${partition}:${message.offset}:${message.value?.toString() ?? ''}`);
      },
    });
    await waitFor('the remaining records', async () => (seen.length >= 2 ? true : undefined));
    await c.disconnect();
    expect(seen).toEqual(['0:3:v3', '0:4:v4']);

    // -1: everything up to the high watermark
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '-1' }] });
    expect((await admin.fetchTopicOffsets(topic)).find((o) => o.partition === 0)?.low).toBe('5');
  });

  it('fetchTopicOffsetsByTimestamp: the earliest offset whose timestamp is at or after the time, else the end', async () => {
    const topic = uniqueName('admin-ts');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const p = await producer();
    const t0 = 1_700_000_000_000;
    const at = (s: number): string => String(t0 + s * 1000);
    // partition 0, offsets 0..5: two plain batches around a gzip batch whose timestamps are not in order
    await p.send({ topic, acks: -1, messages: [{ partition: 0, value: 'o0', timestamp: at(10) }, { partition: 0, value: 'o1', timestamp: at(20) }] });
    await p.send({
      topic,
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: [
        { partition: 0, value: 'o2', timestamp: at(30) },
        { partition: 0, value: 'o3', timestamp: at(25) },
        { partition: 0, value: 'o4', timestamp: at(40) },
      ],
    });
    await p.send({ topic, acks: -1, messages: [{ partition: 0, value: 'o5', timestamp: at(50) }] });
    // partition 1, offsets 0..2
    await p.send({
      topic,
      acks: -1,
      messages: [
        { partition: 1, value: 'p0', timestamp: at(15) },
        { partition: 1, value: 'p1', timestamp: at(35) },
        { partition: 1, value: 'p2', timestamp: at(45) },
      ],
    });

    const byTime = async (s: number): Promise<Array<[number, string]>> =>
      (await admin.fetchTopicOffsetsByTimestamp(topic, t0 + s * 1000))
        .map((o): [number, string] => [o.partition, o.offset])
        .sort((a, b) => a[0] - b[0]);

    expect(await byTime(0)).toEqual([[0, '0'], [1, '0']]); // before all
    expect(await byTime(10)).toEqual([[0, '0'], [1, '0']]); // exactly the first
    expect(await byTime(11)).toEqual([[0, '1'], [1, '0']]);
    expect(await byTime(21)).toEqual([[0, '2'], [1, '1']]); // offset order: o2 (30 s) comes before o3 (25 s)
    expect(await byTime(31)).toEqual([[0, '4'], [1, '1']]);
    expect(await byTime(40)).toEqual([[0, '4'], [1, '2']]);
    expect(await byTime(46)).toEqual([[0, '5'], [1, '3']]); // none in partition 1: its end
    expect(await byTime(51)).toEqual([[0, '6'], [1, '3']]); // after all: the end offsets

    // on the wire, Kafka answers offset -1 when no record is that recent, and the found record's timestamp
    expect(await listOffsetV1(admin, topic, 0, BigInt(t0 + 51_000))).toEqual({ error: 0, timestamp: -1n, offset: -1n });
    expect(await listOffsetV1(admin, topic, 0, BigInt(t0 + 21_000))).toEqual({ error: 0, timestamp: BigInt(at(30)), offset: 2n });
    // latest and earliest are unchanged
    expect((await listOffsetV1(admin, topic, 0, -1n)).offset).toBe(6n);
    expect((await listOffsetV1(admin, topic, 0, -2n)).offset).toBe(0n);
  });
});
