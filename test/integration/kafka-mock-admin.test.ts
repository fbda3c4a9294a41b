/**
 * Proves the Kafka test broker's admin APIs (test/brokers/kafka-mock/patches), not mqbak: kafkajs
 * 2.2.4's admin client, unchanged, gets the answers a Kafka broker gives. Where kafkajs hides the
 * wire answer (ListOffsets "none found", OffsetCommit from outside the group) a few raw requests
 * check it. kcat (librdkafka) must still produce and consume.
 *
 * The assertions are Kafka's behaviour, not the mock's, so the file can run against a real Kafka
 * (docker-compose) too; it has only been run against the mock (1 and 3 brokers).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssignerProtocol, CompressionTypes, Kafka, logLevel } from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, uniqueName } from '../helpers/brokers.js';
import { rawRequest, Writer } from '../helpers/kafka-wire.js';

const CONFIG_SOURCE_TOPIC = 1; // DYNAMIC_TOPIC_CONFIG
const CONFIG_SOURCE_DEFAULT = 5; // DEFAULT_CONFIG
const RESOURCE_TOPIC = 2;

function kafka(clientId: string): Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId, logLevel: logLevel.NOTHING });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The error kafkajs throws, as a record (its error classes are not exported under ESM). */
async function rejection(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return e as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

/** host:port of broker `nodeId`, from kafkajs' view of the cluster. */
async function brokerAddress(admin: Admin, nodeId: number): Promise<string> {
  const { brokers } = await admin.describeCluster();
  const b = brokers.find((x) => x.nodeId === nodeId);
  if (!b) throw new Error(`broker ${nodeId} not in the cluster metadata`);
  return `${b.host}:${b.port}`;
}

/** FindCoordinator v0 for a group: the coordinator's host:port. */
async function groupCoordinator(groupId: string): Promise<string> {
  const bootstrap = kafkaBrokers()[0] ?? '';
  const r = await rawRequest(bootstrap, 10, 0, new Writer().str(groupId).buf());
  const err = r.i16();
  if (err !== 0) throw new Error(`FindCoordinator error ${err}`);
  r.i32();
  const host = r.str();
  return `${host}:${r.i32()}`;
}

/** OffsetCommit v2 as an admin tool sends it: generation -1, no member id. Returns error codes. */
async function simpleOffsetCommit(
  groupId: string,
  topic: string,
  offsets: Array<{ partition: number; offset: bigint }>,
): Promise<number[]> {
  const w = new Writer().str(groupId).i32(-1).str('').i64(-1n).i32(1).str(topic).i32(offsets.length);
  for (const o of offsets) w.i32(o.partition).i64(o.offset).str(null);
  const r = await rawRequest(await groupCoordinator(groupId), 8, 2, w.buf());
  const codes: number[] = [];
  for (let t = r.i32(); t > 0; t--) {
    r.str();
    for (let p = r.i32(); p > 0; p--) {
      r.i32();
      codes.push(r.i16());
    }
  }
  return codes;
}

/** ListOffsets v1 for one partition: what the broker itself answers (no client-side mapping). */
async function listOffsetV1(
  admin: Admin,
  topic: string,
  partition: number,
  timestamp: bigint,
): Promise<{ error: number; timestamp: bigint; offset: bigint }> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  const leader = meta.topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
  if (leader === undefined) throw new Error(`no leader for ${topic}[${partition}]`);
  const body = new Writer().i32(-1).i32(1).str(topic).i32(1).i32(partition).i64(timestamp).buf();
  const r = await rawRequest(await brokerAddress(admin, leader), 2, 1, body);
  r.i32(); // topics
  r.str();
  r.i32(); // partitions
  r.i32();
  return { error: r.i16(), timestamp: r.i64(), offset: r.i64() };
}

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

  describe('groups', () => {
    async function runningConsumer(groupId: string, topic: string): Promise<Consumer> {
      const c = kafka('mqbak-admin-test-consumer').consumer({
        groupId,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
        maxWaitTimeInMs: 100,
      });
      cleanups.push(() => c.disconnect());
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      let seen = 0;
      await c.run({
        eachMessage: async () => {
          seen++;
        },
      });
      await waitFor('the consumer to read the topic', async () => (seen >= 2 ? true : undefined));
      return c;
    }

    it('a running consumer group is listed, described Stable with its member; deleteGroups is NON_EMPTY_GROUP until it stops', async () => {
      const topic = uniqueName('admin-grp');
      const groupId = uniqueName('admin-grp-g');
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
      const p = await producer();
      await p.send({ topic, acks: -1, messages: [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }] });
      const consumer = await runningConsumer(groupId, topic);

      const listed = (await admin.listGroups()).groups.filter((g) => g.groupId === groupId);
      expect(listed).toEqual([{ groupId, protocolType: 'consumer' }]);

      const { groups } = await admin.describeGroups([groupId]);
      expect(groups).toHaveLength(1);
      const g = groups[0];
      expect(g).toMatchObject({ groupId, errorCode: 0, state: 'Stable', protocolType: 'consumer' });
      expect(g?.protocol).toMatch(/\S/);
      expect(g?.members).toHaveLength(1);
      const m = g?.members[0];
      expect(m?.clientId).toBe('mqbak-admin-test-consumer');
      expect(m?.memberId).toMatch(/\S/);
      expect(m?.clientHost).toMatch(/\S/);
      const metadata = AssignerProtocol.MemberMetadata.decode(m?.memberMetadata ?? Buffer.alloc(0));
      expect(metadata?.topics).toEqual([topic]);
      const assignment = AssignerProtocol.MemberAssignment.decode(m?.memberAssignment ?? Buffer.alloc(0));
      expect(assignment?.assignment[topic]?.slice().sort()).toEqual([0, 1]);

      const e = await rejection(admin.deleteGroups([groupId]));
      const results = (e.groups as Array<{ groupId: string; error?: { type: string } }> | undefined) ?? [];
      expect(results.map((r) => [r.groupId, r.error?.type])).toEqual([[groupId, 'NON_EMPTY_GROUP']]);

      // an admin commit (generation -1, no member id) must not move a running group's offsets
      expect(await simpleOffsetCommit(groupId, topic, [{ partition: 0, offset: 0n }])).toEqual([25]); // UNKNOWN_MEMBER_ID

      await consumer.disconnect();
      const after = await waitFor('the group to be Empty', async () => {
        const d = (await admin.describeGroups([groupId])).groups[0];
        return d?.state === 'Empty' ? d : undefined;
      });
      expect(after.members).toEqual([]);

      expect(await admin.deleteGroups([groupId])).toEqual([{ groupId, errorCode: 0 }]);
      expect((await admin.describeGroups([groupId])).groups[0]?.state).toBe('Dead');
      expect((await admin.listGroups()).groups.some((x) => x.groupId === groupId)).toBe(false);
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets[0]?.partitions.map((x) => x.offset)).toEqual(['-1', '-1']);

      const unknown = await rejection(admin.deleteGroups([uniqueName('admin-grp-none')]));
      expect(((unknown.groups as Array<{ error?: { type: string } }> | undefined) ?? []).map((r) => r.error?.type)).toEqual([
        'GROUP_ID_NOT_FOUND',
      ]);
    });

    it('setOffsets on an empty group, then fetchOffsets returns them', async () => {
      const topic = uniqueName('admin-setoff');
      const groupId = uniqueName('admin-setoff-g');
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
      const p = await producer();
      await p.send({
        topic,
        acks: -1,
        messages: ['a', 'b', 'c', 'd', 'e'].flatMap((v) => [
          { partition: 0, value: v },
          { partition: 1, value: v },
        ]),
      });
      // a group that existed and is now Empty
      const consumer = await runningConsumer(groupId, topic);
      await consumer.disconnect();
      await waitFor('the group to be Empty', async () =>
        (await admin.describeGroups([groupId])).groups[0]?.state === 'Empty' ? true : undefined,
      );

      await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '1' }, { partition: 1, offset: '4' }] });
      const fetched = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
      expect(fetched.map((x) => [x.partition, x.offset]).sort()).toEqual([
        [0, '1'],
        [1, '4'],
      ]);

      // a group that never existed
      const fresh = uniqueName('admin-setoff-new');
      await admin.setOffsets({ groupId: fresh, topic, partitions: [{ partition: 1, offset: '2' }] });
      const freshOffsets = (await admin.fetchOffsets({ groupId: fresh, topics: [topic] }))[0]?.partitions ?? [];
      expect(freshOffsets.find((x) => x.partition === 1)?.offset).toBe('2');

      // the commit admin tools send (generation -1, empty member id) is accepted for an Empty group
      expect(
        await simpleOffsetCommit(groupId, topic, [
          { partition: 0, offset: 3n },
          { partition: 1, offset: 5n },
        ]),
      ).toEqual([0, 0]);
      const moved = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
      expect(moved.map((x) => [x.partition, x.offset]).sort()).toEqual([
        [0, '3'],
        [1, '5'],
      ]);
    });
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

const MOCK_DIR = fileURLToPath(new URL('../brokers/kafka-mock/', import.meta.url));
const hasPython = spawnSync('python3', ['--version']).status === 0;
// the harness's own mock (it sets the control port) was built by kafka-mock.sh: its librdkafka
// headers and library are in the build cache; against another broker there is nothing to link
const ownMock = Boolean(process.env.MQBAK_TEST_KAFKA_CONTROL);

describe('Kafka test broker: every advertised version, and librdkafka as a second client', () => {
  it.skipIf(!hasPython)('each version of the added APIs decodes to its last byte (check-versions.py)', () => {
    const r = spawnSync('python3', [path.join(MOCK_DIR, 'check-versions.py'), kafkaBrokers()[0] ?? ''], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^all ok$/m);
  });

  it.skipIf(!ownMock)("librdkafka's admin client (flexible versions) gets Kafka's answers (admin-check.c)", () => {
    const build = spawnSync('bash', [path.join(MOCK_DIR, '..', 'kafka-mock.sh'), 'build'], { encoding: 'utf8', timeout: 600_000 });
    expect(build.status, build.stderr).toBe(0);
    const dir = path.dirname(build.stdout.trim().split('\n').pop() ?? '');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mqbak-admin-check-'));
    try {
      const bin = path.join(tmp, 'admin-check');
      const cc = spawnSync(
        'gcc',
        ['-O2', `-I${dir}/rdk/include`, '-o', bin, path.join(MOCK_DIR, 'admin-check.c'), `-L${dir}/rdk/lib`, `-Wl,-rpath,${dir}/rdk/lib`, '-lrdkafka'],
        { encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).toBe(0);
      const r = spawnSync(bin, [kafkaBrokers().join(','), uniqueName('admin-check')], { encoding: 'utf8', timeout: 120_000 });
      expect(r.stdout.trim(), r.stderr).toBe('ok');
      expect(r.status).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

const kcat = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
const hasKcat = kcat.status === 0;
if (!hasKcat) {
  console.warn('kafka-mock-admin.test.ts: kcat is not installed (Debian package kcat): skipping the kcat test');
}

describe('Kafka test broker: kcat (librdkafka) still works', () => {
  it.skipIf(!hasKcat)('kcat -P produces and kcat -C -e consumes the same keyed records', async () => {
    const topic = uniqueName('admin-kcat');
    const broker = kafkaBrokers().join(',');
    const lines = Array.from({ length: 50 }, (_, i) => `k${i}:value ${i} ${'x'.repeat(i)}`);

    const produced = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn('kcat', ['-b', broker, '-t', topic, '-P', '-K:', '-p', '0'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
      child.stdin.end(`${lines.join('\n')}\n`);
    });
    expect(produced.code, produced.stderr).toBe(0);

    const consumed = spawnSync('kcat', ['-b', broker, '-t', topic, '-C', '-e', '-o', 'beginning', '-f', '%p %o %k:%s\n'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(consumed.status, consumed.stderr).toBe(0);
    const got = consumed.stdout.split('\n').filter((l) => l !== '');
    expect(got).toEqual(lines.map((l, i) => `0 ${i} ${l}`));
  });
});
