/**
 * Proves the Kafka test broker's fault commands (mockd's stdin, test/brokers/kafka-mock/README.md),
 * not mqbak: each command has the effect a client sees, through kafkajs or through raw requests
 * where kafkajs would retry the error away. The tests run a 3-broker mockd of their own
 * (startKafkaMock), so the shared broker of the other tests never fails.
 */
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/brokers.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { rawRequest, Writer } from '../helpers/kafka-wire.js';

const NOT_LEADER_OR_FOLLOWER = 6;
const LEADER_NOT_AVAILABLE = 5;
const REQUEST_TIMED_OUT = 7;
const NOT_ENOUGH_REPLICAS = 19;

let mock: KafkaMock;
let admin: Admin;

function kafka(clientId: string, retries = 5): Kafka {
  return new Kafka({ brokers: mock.brokers, clientId, logLevel: logLevel.NOTHING, retry: { retries, initialRetryTime: 50 } });
}

/** host:port of broker `id` (mockd numbers its brokers 1..N in bootstrap order). */
function broker(id: number): string {
  const a = mock.brokers[id - 1];
  if (!a) throw new Error(`no broker ${id}`);
  return a;
}

async function topicWith(partitions: number, leaders: number[]): Promise<string> {
  const topic = uniqueName('faults');
  await mock.send(`create ${topic} ${partitions}`);
  for (const [p, b] of leaders.entries()) await mock.send(`leader ${topic} ${p} ${b}`);
  return topic;
}

async function produce(topic: string, partition: number, count: number, from = 0): Promise<void> {
  const producer = kafka('faults-producer').producer();
  await producer.connect();
  try {
    const messages = Array.from({ length: count }, (_, i) => ({ key: `k${from + i}`, value: `v${from + i}`, partition }));
    // one batch per record: the mock's Fetch answers one batch at a time
    for (const m of messages) await producer.send({ topic, messages: [m], acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

/** Metadata v1 from one broker: its brokers and, per partition of `topic`, the error and leader. */
async function metadataV1(address: string, topic: string): Promise<{ brokers: number[]; topicError: number; leaders: number[] }> {
  const r = await rawRequest(address, 3, 1, new Writer().i32(1).str(topic).buf());
  const brokers: number[] = [];
  for (let n = r.i32(); n > 0; n--) {
    brokers.push(r.i32());
    r.str();
    r.i32();
    r.str();
  }
  r.i32(); // controller
  expect(r.i32()).toBe(1);
  const topicError = r.i16();
  expect(r.str()).toBe(topic);
  r.i8(); // is_internal
  const leaders: number[] = [];
  for (let n = r.i32(); n > 0; n--) {
    r.i16();
    const p = r.i32();
    leaders[p] = r.i32();
    for (let k = r.i32(); k > 0; k--) r.i32(); // replicas
    for (let k = r.i32(); k > 0; k--) r.i32(); // isr
  }
  return { brokers, topicError, leaders };
}

interface FetchedPartition {
  partition: number;
  error: number;
  highWatermark: bigint;
  recordBytes: number;
}

/** Fetch v4 of `partitions` from offset `offset`, sent to one broker. */
async function fetchV4(address: string, topic: string, partitions: number[], offset = 0n): Promise<FetchedPartition[]> {
  const w = new Writer().i32(-1).i32(0).i32(1).i32(1 << 20).i8(0).i32(1).str(topic).i32(partitions.length);
  for (const p of partitions) w.i32(p).i64(offset).i32(1 << 20);
  const r = await rawRequest(address, 1, 4, w.buf());
  r.i32(); // throttle
  const out: FetchedPartition[] = [];
  for (let t = r.i32(); t > 0; t--) {
    r.str();
    for (let n = r.i32(); n > 0; n--) {
      const partition = r.i32();
      const error = r.i16();
      const highWatermark = r.i64();
      r.i64(); // last stable offset
      for (let a = r.i32(); a > 0; a--) {
        r.i64();
        r.i64();
      }
      out.push({ partition, error, highWatermark, recordBytes: r.bytes()?.length ?? 0 });
    }
  }
  return out;
}

/** ListOffsets v1 (latest) of one partition, sent to one broker: error and offset. */
async function latestOffsetV1(address: string, topic: string, partition: number): Promise<{ error: number; offset: bigint }> {
  const r = await rawRequest(address, 2, 1, new Writer().i32(-1).i32(1).str(topic).i32(1).i32(partition).i64(-1n).buf());
  r.i32();
  r.str();
  r.i32();
  r.i32();
  const error = r.i16();
  r.i64(); // timestamp
  return { error, offset: r.i64() };
}

/** InitProducerId v0 for an idempotent producer (no transactional id): the error code. */
async function initProducerIdV0(address: string): Promise<number> {
  const r = await rawRequest(address, 22, 0, new Writer().str(null).i32(60_000).buf());
  r.i32(); // throttle
  return r.i16();
}

/** Whether a TCP connection to `address` is accepted. */
function accepts(address: string): Promise<boolean> {
  const i = address.lastIndexOf(':');
  return new Promise((resolve) => {
    const sock = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    sock.setTimeout(5_000, () => sock.destroy());
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('close', () => resolve(false));
  });
}

describe('Kafka test broker: faults on command (3-broker mockd of its own)', () => {
  beforeAll(async () => {
    mock = await startKafkaMock({ brokers: 3 });
    admin = kafka('faults-admin').admin();
    await admin.connect();
  });

  afterAll(async () => {
    await admin?.disconnect();
    await mock?.stop();
  });

  it('starts the asked number of brokers, numbered 1..N in bootstrap order', async () => {
    const { brokers } = await admin.describeCluster();
    expect(brokers.map((b) => `${b.host}:${b.port}`).sort()).toEqual([...mock.brokers].sort());
    for (const b of brokers) expect(broker(b.nodeId)).toBe(`${b.host}:${b.port}`);
  });

  it('a command with bad arguments is answered err, and mockd goes on', async () => {
    expect(await mock.command('leader')).toMatch(/^err usage: leader /);
    expect(await mock.command('errors Bogus 1 6')).toMatch(/^err unknown API/);
    expect(await mock.command('errors Fetch 1 NO_SUCH_ERROR')).toMatch(/^err unknown error code/);
    expect(await mock.command('errors Fetch 0 6')).toMatch(/^err count/);
    expect(await mock.command('leader some-topic 0 9')).toMatch(/^err /); // no broker 9
    expect(await mock.command('frobnicate')).toBe('err unknown command');
    expect(await mock.command('rtt -1 0')).toBe('ok');
  });

  it('leader: metadata names the new leader, the old one answers NOT_LEADER_OR_FOLLOWER, a connected producer follows', async () => {
    const topic = await topicWith(1, [1]);
    const producer = kafka('faults-follow').producer();
    await producer.connect();
    try {
      await producer.send({ topic, messages: [{ value: 'before' }], acks: -1 });
      await mock.send(`leader ${topic} 0 3`);
      const meta = await admin.fetchTopicMetadata({ topics: [topic] });
      expect(meta.topics[0]?.partitions[0]?.leader).toBe(3);
      expect((await latestOffsetV1(broker(1), topic, 0)).error).toBe(NOT_LEADER_OR_FOLLOWER);
      expect(await latestOffsetV1(broker(3), topic, 0)).toEqual({ error: 0, offset: 1n });
      // kafkajs' cached metadata still says broker 1: it gets NOT_LEADER_OR_FOLLOWER, refreshes, resends
      await producer.send({ topic, messages: [{ value: 'after' }], acks: -1 });
    } finally {
      await producer.disconnect();
    }
    expect(await latestOffsetV1(broker(3), topic, 0)).toEqual({ error: 0, offset: 2n });
    // -1: no leader at all
    await mock.send(`leader ${topic} 0 -1`);
    expect((await metadataV1(broker(2), topic)).leaders[0]).toBe(-1);
  });

  it('leader_response: the next Metadata answer names the pushed leader and epoch, once', async () => {
    const topic = await topicWith(1, [1]);
    await mock.send(`leader_response ${topic} 0 2 100`);
    expect((await metadataV1(broker(1), topic)).leaders[0]).toBe(2);
    expect((await metadataV1(broker(1), topic)).leaders[0]).toBe(1);
  });

  it('broker_down refuses connections and leaves the broker out of metadata; broker_up brings it back', async () => {
    await mock.send('broker_down 2');
    try {
      expect(await accepts(broker(2))).toBe(false);
      const fresh = kafka('faults-down').admin();
      await fresh.connect();
      try {
        const { brokers } = await fresh.describeCluster();
        expect(brokers.map((b) => b.nodeId).sort()).toEqual([1, 3]);
      } finally {
        await fresh.disconnect();
      }
    } finally {
      await mock.send('broker_up 2');
    }
    expect(await accepts(broker(2))).toBe(true);
    expect((await metadataV1(broker(2), await topicWith(1, [2]))).brokers.sort()).toEqual([1, 2, 3]);
  });

  it('rtt delays every answer of that broker, and only of that broker', async () => {
    const topic = await topicWith(1, [1]);
    const timed = async (address: string): Promise<number> => {
      const t0 = Date.now();
      await metadataV1(address, topic);
      return Date.now() - t0;
    };
    await mock.send('rtt 2 600');
    try {
      expect(await timed(broker(2))).toBeGreaterThanOrEqual(550);
      expect(await timed(broker(1))).toBeLessThan(400);
    } finally {
      await mock.send('rtt 2 0');
    }
    expect(await timed(broker(2))).toBeLessThan(400);
  });

  describe('errors: the next N requests of an API, on any broker, answer the error', () => {
    it.each([
      ['Fetch', 'NOT_LEADER_OR_FOLLOWER', NOT_LEADER_OR_FOLLOWER],
      ['1', 'REQUEST_TIMED_OUT', REQUEST_TIMED_OUT],
      ['ListOffsets', 'LEADER_NOT_AVAILABLE', LEADER_NOT_AVAILABLE],
      ['Metadata', 'LEADER_NOT_AVAILABLE', LEADER_NOT_AVAILABLE],
      ['InitProducerId', 'NOT_ENOUGH_REPLICAS', NOT_ENOUGH_REPLICAS],
      ['InitProducerId', '19', NOT_ENOUGH_REPLICAS],
    ])('%s %s', async (api, name, code) => {
      const topic = await topicWith(1, [1]);
      await produce(topic, 0, 1);
      const ask: () => Promise<number> = {
        Fetch: async () => (await fetchV4(broker(1), topic, [0]))[0]!.error,
        '1': async () => (await fetchV4(broker(1), topic, [0]))[0]!.error,
        ListOffsets: async () => (await latestOffsetV1(broker(1), topic, 0)).error,
        Metadata: async () => (await metadataV1(broker(1), topic)).topicError,
        InitProducerId: async () => initProducerIdV0(broker(1)),
      }[api]!;
      await mock.send(`errors ${api} 2 ${name}`);
      expect([await ask(), await ask(), await ask()]).toEqual([code, code, 0]);
    });

    it('kafkajs sees a pushed Produce error when it may not retry, and gets through it when it may', async () => {
      const topic = await topicWith(1, [1]);
      const strict = kafka('faults-strict', 0).producer();
      await strict.connect();
      try {
        await mock.send('errors Produce 1 NOT_ENOUGH_REPLICAS');
        await expect(strict.send({ topic, messages: [{ value: 'x' }], acks: -1 })).rejects.toMatchObject({
          cause: { type: 'NOT_ENOUGH_REPLICAS' },
        });
      } finally {
        await strict.disconnect();
      }
      await mock.send('errors Produce 3 NOT_LEADER_OR_FOLLOWER');
      await produce(topic, 0, 1); // retries 5
      expect(await latestOffsetV1(broker(1), topic, 0)).toEqual({ error: 0, offset: 1n });
    });

    it('clear_errors drops what is left', async () => {
      const topic = await topicWith(1, [1]);
      await mock.send('errors ListOffsets 5 REQUEST_TIMED_OUT');
      expect((await latestOffsetV1(broker(1), topic, 0)).error).toBe(REQUEST_TIMED_OUT);
      await mock.send('clear_errors ListOffsets');
      expect((await latestOffsetV1(broker(1), topic, 0)).error).toBe(0);
    });
  });

  it('broker_errors: only that broker answers the error, after the RTT; pending_errors counts what is left', async () => {
    const topic = await topicWith(1, [1]);
    await mock.send(`broker_errors 2 Metadata 2 LEADER_NOT_AVAILABLE 300`);
    expect(await mock.send('pending_errors 2 Metadata')).toBe('2');
    expect((await metadataV1(broker(1), topic)).topicError).toBe(0);
    const t0 = Date.now();
    expect((await metadataV1(broker(2), topic)).topicError).toBe(LEADER_NOT_AVAILABLE);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(await mock.send('pending_errors 2 Metadata')).toBe('1');
    expect((await metadataV1(broker(2), topic)).topicError).toBe(LEADER_NOT_AVAILABLE);
    expect((await metadataV1(broker(2), topic)).topicError).toBe(0);
    expect(await mock.send('pending_errors 2 Metadata')).toBe('0');
  });

  it('partition_errors: only that partition of a Fetch answers the error', async () => {
    const topic = await topicWith(2, [1, 1]);
    await produce(topic, 0, 1);
    await produce(topic, 1, 1);
    await mock.send(`partition_errors ${topic} 0 Fetch 1 NOT_LEADER_OR_FOLLOWER`);
    const first = await fetchV4(broker(1), topic, [0, 1]);
    expect(first.map((p) => [p.partition, p.error])).toEqual([
      [0, NOT_LEADER_OR_FOLLOWER],
      [1, 0],
    ]);
    expect(first[1]!.recordBytes).toBeGreaterThan(0);
    expect((await fetchV4(broker(1), topic, [0, 1])).map((p) => p.error)).toEqual([0, 0]);
  });

  it('topic_error: every Metadata answer reports it for that topic until it is set to 0', async () => {
    const topic = await topicWith(1, [1]);
    await mock.send(`topic_error ${topic} LEADER_NOT_AVAILABLE`);
    expect((await metadataV1(broker(1), topic)).topicError).toBe(LEADER_NOT_AVAILABLE);
    expect((await metadataV1(broker(3), topic)).topicError).toBe(LEADER_NOT_AVAILABLE);
    await mock.send(`topic_error ${topic} 0`);
    expect((await metadataV1(broker(1), topic)).topicError).toBe(0);
  });

  it('follower_wmarks: a fetch from the follower sees a high watermark behind the log end; the leader does not', async () => {
    const topic = await topicWith(1, [1]);
    await produce(topic, 0, 10);
    await mock.send(`follower ${topic} 0 2`);
    await mock.send(`follower_wmarks ${topic} 0 -1 4`);
    const [onFollower] = await fetchV4(broker(2), topic, [0]);
    expect(onFollower).toMatchObject({ error: 0, highWatermark: 4n });
    const [atEnd] = await fetchV4(broker(2), topic, [0], 4n);
    expect(atEnd).toMatchObject({ error: 0, highWatermark: 4n, recordBytes: 0 });
    const [onLeader] = await fetchV4(broker(1), topic, [0]);
    expect(onLeader).toMatchObject({ error: 0, highWatermark: 10n });
    // a third broker, neither leader nor follower, refuses the fetch
    expect((await fetchV4(broker(3), topic, [0]))[0]!.error).toBe(NOT_LEADER_OR_FOLLOWER);
    // -1 follows the leader again
    await mock.send(`follower_wmarks ${topic} 0 -1 -1`);
    expect((await fetchV4(broker(2), topic, [0]))[0]!.highWatermark).toBe(10n);
  });

  it('follower_wmarks, seen by a kafkajs consumer with a rack id: it reads from the follower and stops at its high watermark', async () => {
    const topic = await topicWith(1, [1]);
    await produce(topic, 0, 10);
    await mock.send(`follower ${topic} 0 2`);
    await mock.send(`follower_wmarks ${topic} 0 -1 4`);
    const consumer = kafka('faults-rack').consumer({ groupId: uniqueName('faults-rack'), rackId: 'r1', maxWaitTimeInMs: 200 });
    const seen: Array<{ offset: string; highWatermark: string }> = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) seen.push({ offset: m.offset, highWatermark: batch.highWatermark });
        },
      });
      const deadline = Date.now() + 15_000;
      while (seen.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1_000)); // time to read past 4, if it could
    } finally {
      await consumer.disconnect();
    }
    expect(seen.map((s) => s.offset)).toEqual(['0', '1', '2', '3']);
    expect(new Set(seen.map((s) => s.highWatermark))).toEqual(new Set(['4']));
  });

  it('leader_hwm: the leader itself answers a high watermark behind its log end (Fetch, ListOffsets, kafkajs), until -1', async () => {
    const topic = await topicWith(1, [1]);
    await produce(topic, 0, 6);
    await mock.send(`leader_hwm ${topic} 0 1 4`);
    await produce(topic, 0, 2, 6); // appended behind the held watermark
    expect(await latestOffsetV1(broker(1), topic, 0)).toEqual({ error: 0, offset: 4n });
    expect((await admin.fetchTopicOffsets(topic))[0]).toMatchObject({ partition: 0, high: '4' });
    const [head] = await fetchV4(broker(1), topic, [0]);
    expect(head).toMatchObject({ error: 0, highWatermark: 4n });
    expect((await fetchV4(broker(1), topic, [0], 4n))[0]).toMatchObject({ error: 0, highWatermark: 4n, recordBytes: 0 });
    const consumer = kafka('faults-lag').consumer({ groupId: uniqueName('faults-lag'), maxWaitTimeInMs: 200 });
    const offsets: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({ eachMessage: async ({ message }) => void offsets.push(message.offset) });
      const deadline = Date.now() + 15_000;
      while (offsets.length < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      await new Promise((r) => setTimeout(r, 1_000)); // time to read past 4, if it could
      expect(offsets).toEqual(['0', '1', '2', '3']);
      await mock.send(`leader_hwm ${topic} 0 1 -1`);
      while (offsets.length < 8 && Date.now() < deadline + 15_000) await new Promise((r) => setTimeout(r, 100));
    } finally {
      await consumer.disconnect();
    }
    expect(offsets).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    expect(await latestOffsetV1(broker(1), topic, 0)).toEqual({ error: 0, offset: 8n });
  });

  it.each([
    [true, 1],
    [false, 2],
  ])('a batch whose answer was lost (broker down meanwhile) and is resent: idempotent %s, written %i time(s)', async (idempotent, copies) => {
    const topic = await topicWith(1, [1]);
    const producer = kafka('faults-resend', 10).producer({ idempotent, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      // written at once, answered after 1.5 s: the broker goes down before it answers
      await mock.send('broker_errors 1 Produce 1 0 1500');
      const sent = producer.send({ topic, messages: [{ partition: 0, value: 'once' }], acks: -1 });
      await new Promise((r) => setTimeout(r, 500));
      expect(await latestOffsetV1(broker(1), topic, 0)).toEqual({ error: 0, offset: 1n });
      await mock.send('broker_down 1');
      await new Promise((r) => setTimeout(r, 500));
      await mock.send('broker_up 1');
      const [result] = await sent;
      // the idempotent resend is answered with the offset of the first write; the other is a second record
      expect(result).toMatchObject({ errorCode: 0, baseOffset: String(copies - 1) });
    } finally {
      await producer.disconnect();
    }
    expect(await latestOffsetV1(broker(1), topic, 0)).toEqual({ error: 0, offset: BigInt(copies) });
  });
});
