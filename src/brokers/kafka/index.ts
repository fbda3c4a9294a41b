/**
 * kafkajs adapter: connection, a bounded-snapshot source, an in-order sink and the admin calls
 * mqbak needs. Imports only src/common and kafkajs (loaded lazily: --help stays fast).
 */
import { randomBytes } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer, SASLOptions } from 'kafkajs';
import { MqbakError, withContext } from '../../common/errors.js';
import type { Progress } from '../../common/progress.js';
import { columnRecord, type ArchiveRecord, type RecordColumns, type RecordHeader, type RecordSlice } from '../../common/record.js';
import { BatchProducer, type PreparedBatch } from './batch-producer.js';
import { KafkaFetcher } from './fetcher.js';

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  progress: Progress;
  debug: boolean;
}

/** kafkajs logs JSON to the console by default: route everything through Progress instead. */
async function createKafka(c: KafkaConnection): Promise<Kafka> {
  const { default: kafkajs } = await import('kafkajs');
  const { logLevel } = kafkajs;
  // kafkajs' own messages (retries, rebalances) are noise for users: shown only with --debug;
  // what matters reaches the user as the error kafkajs finally throws
  const logCreator = () => (entry: { level: number; namespace: string; log: { message: string } }) => {
    if (c.debug) c.progress.info(`kafka ${entry.namespace}: ${entry.log.message}`);
  };
  return new kafkajs.Kafka({
    brokers: c.brokers,
    clientId: c.clientId,
    ssl: c.tls ? { ca: c.tls.ca, cert: c.tls.cert, key: c.tls.key, rejectUnauthorized: c.tls.rejectUnauthorized } : undefined,
    sasl: c.sasl ? ({ mechanism: c.sasl.mechanism, username: c.sasl.username, password: c.sasl.password } as SASLOptions) : undefined,
    logLevel: c.debug ? logLevel.DEBUG : logLevel.WARN,
    logCreator,
    retry: { retries: 5 },
  });
}

function unreachable(e: unknown, what: string): MqbakError {
  return withContext(e, what, 'unreachable');
}

export interface PartitionInfo {
  partition: number;
  replicationFactor: number;
}
export interface Watermarks {
  low: bigint;
  high: bigint;
}

/** A connected admin client with the calls mqbak makes. */
export class KafkaAdmin {
  private fetcherOpen: Promise<KafkaFetcher | null> | null = null;

  private constructor(
    readonly kafka: Kafka,
    readonly admin: Admin,
    private readonly c: KafkaConnection,
  ) {}

  static async connect(c: KafkaConnection): Promise<KafkaAdmin> {
    const kafka = await createKafka(c);
    const admin = kafka.admin();
    try {
      await admin.connect();
    } catch (e) {
      throw unreachable(e, `connect to Kafka ${c.brokers.join(',')}`);
    }
    return new KafkaAdmin(kafka, admin, c);
  }

  async clusterId(): Promise<string> {
    const d = await this.admin.describeCluster();
    return d.clusterId ?? 'unknown';
  }

  async listTopics(): Promise<string[]> {
    return (await this.admin.listTopics()).filter((t) => !t.startsWith('__')).sort();
  }

  /** Partitions of each topic; a missing topic is 'not-found'. */
  async partitions(topic: string): Promise<PartitionInfo[]> {
    try {
      const md = await this.admin.fetchTopicMetadata({ topics: [topic] });
      const t = md.topics[0];
      if (!t) throw new MqbakError('not-found', `topic ${topic} not found`);
      return t.partitions.map((p) => ({ partition: p.partitionId, replicationFactor: p.replicas.length })).sort((a, b) => a.partition - b.partition);
    } catch (e) {
      if (e instanceof MqbakError) throw e;
      const m = e instanceof Error ? e.message : String(e);
      if (/does not host this topic-partition|UNKNOWN_TOPIC/i.test(m)) throw new MqbakError('not-found', `topic ${topic} not found on the broker`);
      throw unreachable(e, `metadata of ${topic}`);
    }
  }

  /**
   * Low and high end per partition. kafkajs fetchTopicOffsets sends ListOffsets (v2 and later)
   * with its default isolation level, READ_COMMITTED (kafkajs src/protocol/requests/listOffsets/
   * index.js): `high` is the last stable offset, which equals the high watermark unless a
   * transaction is open on the partition.
   */
  async watermarks(topic: string): Promise<Map<number, Watermarks>> {
    const out = new Map<number, Watermarks>();
    for (const p of await this.admin.fetchTopicOffsets(topic)) out.set(p.partition, { low: BigInt(p.low), high: BigInt(p.high) });
    return out;
  }

  /** Topic configs set on the broker (non-default), or null when the broker refuses DescribeConfigs. */
  async topicConfigs(topic: string): Promise<Record<string, string> | null> {
    try {
      const { default: kafkajs } = await import('kafkajs');
      const r = await this.admin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
      const out: Record<string, string> = {};
      for (const res of r.resources) {
        for (const e of res.configEntries) if (!e.isDefault && e.configValue !== null && !e.isSensitive) out[e.configName] = e.configValue;
      }
      return out;
    } catch (e) {
      this.c.progress.info(`describeConfigs ${topic}: ${e instanceof Error ? e.message : String(e)} (configs unavailable)`);
      return null;
    }
  }

  /** All group ids the broker lists, or null when it does not answer ListGroups. */
  async listGroups(): Promise<string[] | null> {
    try {
      return (await this.admin.listGroups()).groups.map((g) => g.groupId).sort();
    } catch (e) {
      this.c.progress.info(`listGroups: ${e instanceof Error ? e.message : String(e)}`);
      return null;
    }
  }

  /** Committed offsets of a group on these topics (only partitions with a commit). */
  async groupOffsets(groupId: string, topics: string[]): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {};
    const r = await this.admin.fetchOffsets({ groupId, topics });
    for (const t of r) {
      for (const p of t.partitions) {
        if (p.offset === '-1') continue;
        (out[t.topic] ??= {})[String(p.partition)] = p.offset;
      }
    }
    return out;
  }

  async groupState(groupId: string): Promise<{ state: string; members: number }> {
    const r = await this.admin.describeGroups([groupId]);
    const g = r.groups[0];
    return { state: g?.state ?? 'Dead', members: g?.members.length ?? 0 };
  }

  async setGroupOffsets(groupId: string, topic: string, partitions: Array<{ partition: number; offset: bigint }>): Promise<void> {
    await this.admin.setOffsets({ groupId, topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: p.offset.toString() })) });
  }

  async deleteGroup(groupId: string): Promise<void> {
    try {
      await this.admin.deleteGroups([groupId]);
    } catch (e) {
      // the stock mock has no DeleteGroups: a leftover empty throwaway group is harmless
      this.c.progress.info(`could not delete throwaway group ${groupId}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  async createTopic(topic: string, partitions: number, replicationFactor: number, configs: Record<string, string>): Promise<void> {
    try {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      });
    } catch (e) {
      throw withContext(e, `create topic ${topic} (${partitions} partitions)`, 'unreachable');
    }
  }

  /** mqbak's own Fetch reader, opened once (null when this kafkajs or broker does not allow it). */
  fetcher(): Promise<KafkaFetcher | null> {
    this.fetcherOpen ??= KafkaFetcher.open(this.kafka);
    return this.fetcherOpen;
  }

  async disconnect(): Promise<void> {
    const f = await this.fetcherOpen?.catch(() => null);
    await f?.close();
    await this.admin.disconnect().catch(() => {});
  }
}

type KafkaHeaderValue = Buffer | string | undefined | null;

function headerValue(x: KafkaHeaderValue): Uint8Array | null {
  // a Buffer is a Uint8Array: kept as it is, copied once, into the archive block
  return x === undefined || x === null ? null : typeof x === 'string' ? Buffer.from(x, 'utf8') : x;
}

function headersOf(h: Record<string, KafkaHeaderValue | KafkaHeaderValue[]> | undefined): RecordHeader[] {
  const out: RecordHeader[] = [];
  if (!h) return out;
  for (const name in h) {
    const v = h[name];
    if (Array.isArray(v)) for (const x of v) out.push({ name, value: headerValue(x) });
    else out.push({ name, value: headerValue(v) });
  }
  return out;
}

export interface ReadRange {
  partition: number;
  /** inclusive */
  from: bigint;
  /** exclusive: the end noted at start */
  to: bigint;
}

export type KafkaReaderKind = 'fetch' | 'kafkajs';

export interface TopicReadHandlers {
  /** Records of one partition in offset order, from mqbak's own reader (no object per record). */
  columns(partition: number, columns: RecordColumns): Promise<void>;
  /** The same, from kafkajs' consumer (where mqbak's reader cannot read a partition's batches). */
  records(partition: number, records: ArchiveRecord[]): Promise<void>;
  /** Offsets [from, to) deleted by retention after the backup noted its start. */
  gap(partition: number, from: bigint, to: bigint): void;
  warn(message: string): void;
  /** Loads a zstd decompressor (any frame, content size or not), for zstd batches. */
  zstd?: () => Promise<(data: Uint8Array) => Uint8Array>;
}

/**
 * Reads [from, to) of each partition and hands the records over in offset order per partition;
 * each handler call is awaited before that partition is read on (backpressure from the writer).
 * Resolves once every partition reached its end. 'fetch' (the default) is mqbak's own Fetch
 * reader (fetcher.ts), with kafkajs' consumer taking over a partition from a batch the former
 * leaves to it (the message format of Kafka before 0.11, a header name that is not UTF-8);
 * 'kafkajs' reads everything through kafkajs' consumer (which, without codecs registered, cannot
 * read snappy, lz4 or zstd batches). zstd batches are read with `handlers.zstd`.
 */
export async function readTopic(
  admin: KafkaAdmin,
  topic: string,
  ranges: ReadRange[],
  isolation: 'read_committed' | 'read_uncommitted',
  handlers: TopicReadHandlers,
  signal: AbortSignal,
  reader: KafkaReaderKind = 'fetch',
): Promise<void> {
  let rest = ranges;
  if (reader === 'fetch') {
    let fetcher: KafkaFetcher | null;
    try {
      fetcher = await admin.fetcher();
    } catch (e) {
      throw unreachable(e, `read ${topic}`);
    }
    if (fetcher) {
      const lowWatermark = async (p: number) => (await admin.watermarks(topic)).get(p)?.low ?? 0n;
      const left = await fetcher.read(topic, ranges, isolation, { columns: handlers.columns, gap: handlers.gap, lowWatermark, zstd: handlers.zstd }, signal);
      for (const l of left) handlers.warn(`${topic}[${l.partition}] from offset ${l.from}: ${l.reason}: read through kafkajs' consumer instead`);
      // the partitions done stay in, empty, so that the consumer pauses them
      rest = ranges.map((r) => left.find((l) => l.partition === r.partition) ?? { partition: r.partition, from: r.to, to: r.to });
      if (left.length === 0) return;
    }
  }
  await readWithConsumer(admin, topic, rest, isolation, handlers.records, signal);
}

/**
 * Reads [from, to) of each partition with a throwaway consumer group (mqbak-<random>, nothing
 * committed). kafkajs decodes headers into an object keyed by name: repeated names come back as
 * an array in their original relative order, but the interleaving between different names is lost.
 */
async function readWithConsumer(
  admin: KafkaAdmin,
  topic: string,
  ranges: ReadRange[],
  isolation: 'read_committed' | 'read_uncommitted',
  onBatch: (partition: number, records: ArchiveRecord[]) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const todo = ranges.filter((r) => r.from < r.to);
  if (todo.length === 0) return;
  const groupId = `mqbak-${randomBytes(6).toString('hex')}`;
  const kafka = admin.kafka;
  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: isolation === 'read_uncommitted',
    sessionTimeout: 30000,
    maxWaitTimeInMs: 200,
    allowAutoTopicCreation: false,
  });
  const pending = new Map<number, ReadRange>(todo.map((r) => [r.partition, r]));
  const all = new Set(ranges.map((r) => r.partition));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject0) => {
      // an error thrown inside eachBatch is retried by kafkajs (consumer restart), never
      // surfaced: failures of the writer/store are stashed here and end the read at once
      let failed = false;
      const reject = (e: unknown) => {
        failed = true;
        reject0(e);
      };
      const onAbort = () => reject(new MqbakError('interrupted', 'interrupted'));
      signal.addEventListener('abort', onAbort, { once: true });
      const finishIfDone = () => {
        if (pending.size === 0) resolve();
      };
      consumer
        .run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
            const range = pending.get(batch.partition);
            if (!range) return;
            const records: ArchiveRecord[] = [];
            let lastOffset: string | null = null;
            for (const m of batch.messages) {
              const off = BigInt(m.offset);
              if (off < range.from) continue;
              if (off >= range.to) break;
              records.push({
                position: off,
                timestamp: m.timestamp === undefined || m.timestamp === '-1' ? null : Number(m.timestamp),
                timestampType: null,
                key: m.key ?? null,
                value: m.value ?? null,
                headers: headersOf(m.headers as Record<string, KafkaHeaderValue | KafkaHeaderValue[]> | undefined),
                amqp: null,
              });
              lastOffset = m.offset;
            }
            if (!isRunning() || signal.aborted || failed) return;
            if (lastOffset !== null) {
              try {
                // one call per fetched batch: the writer encodes synchronously and waits only
                // when compression or the store falls behind (backpressure)
                await onBatch(batch.partition, records);
              } catch (e) {
                reject(e);
                return;
              }
              if (!isRunning() || signal.aborted || failed) return;
              resolveOffset(lastOffset);
            }
            await heartbeat();
            // control records and compacted-away offsets: the batch may end past the last message
            const last = BigInt(batch.lastOffset());
            if (last >= range.to - 1n) {
              pending.delete(batch.partition);
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              finishIfDone();
            }
          },
        })
        .then(() => {
          // seek only after run(): kafkajs applies seeks to a running consumer
          for (const p of all) {
            const r = pending.get(p);
            if (r) consumer.seek({ topic, partition: p, offset: r.from.toString() });
            else consumer.pause([{ topic, partitions: [p] }]);
          }
        })
        .catch(reject);
    });
  } catch (e) {
    if (e instanceof MqbakError) throw e;
    throw unreachable(e, `read ${topic}`);
  } finally {
    await consumer.disconnect().catch(() => {});
    await admin.deleteGroup(groupId);
  }
}

const EMPTY = Buffer.alloc(0);

/** A Buffer over the same bytes (no copy: the archive block stays alive while it is sent). */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export type KafkaProducerKind = 'batch' | 'kafkajs';

/** A batch on its way to one partition (see KafkaSink.prepare). */
export type PreparedSend = { batch: PreparedBatch } | { records: { topic: string; partition: number; records: ArchiveRecord[] } };

/**
 * Idempotent producer (acks -1, one request per partition in flight): acknowledged offsets of a
 * partition are in send order. 'batch' (the default) is mqbak's own record-batch encoder over
 * kafkajs' connections (batch-producer.ts); 'kafkajs' is kafkajs' producer, used as well when the
 * former cannot run with this kafkajs or broker.
 */
export class KafkaSink {
  private constructor(
    private readonly producer: Producer | null,
    private readonly batch: BatchProducer | null,
  ) {}

  get kind(): KafkaProducerKind {
    return this.batch ? 'batch' : 'kafkajs';
  }

  static async connect(admin: KafkaAdmin, kind: KafkaProducerKind = 'batch'): Promise<KafkaSink> {
    if (kind === 'batch') {
      let batch: BatchProducer | null;
      try {
        batch = await BatchProducer.open(admin.kafka);
      } catch (e) {
        throw unreachable(e, 'connect the Kafka producer');
      }
      if (batch) return new KafkaSink(null, batch);
    }
    const producer = admin.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
    try {
      await producer.connect();
    } catch (e) {
      throw unreachable(e, 'connect the Kafka producer');
    }
    return new KafkaSink(producer, null);
  }

  /**
   * Starts encoding the partition's next batch, to be sent with transmit: the restore encodes a
   * partition's next batch while the one before it is on the wire. Transmit a partition's batches
   * in the order they were prepared, each after the one before it was acknowledged. With the
   * 'batch' producer, batches of different partitions may be in flight at once.
   */
  prepare(topic: string, partition: number, records: readonly RecordSlice[]): PreparedSend {
    if (this.batch) return { batch: this.batch.prepare(topic, partition, records) };
    const objects: ArchiveRecord[] = [];
    for (const s of records) for (let i = s.from; i < s.to; i++) objects.push(columnRecord(s.cols, i));
    return { records: { topic, partition, records: objects } };
  }

  /** Sends a prepared batch; returns the acknowledged base offset. */
  async transmit(p: PreparedSend, signal?: AbortSignal): Promise<bigint> {
    if ('batch' in p) {
      if (!this.batch) throw new MqbakError('internal', 'a batch prepared for another producer');
      return this.batch.transmit(p.batch, signal);
    }
    return this.sendWithKafkajs(p.records.topic, p.records.partition, p.records.records);
  }

  private async sendWithKafkajs(topic: string, partition: number, records: ArchiveRecord[]): Promise<bigint> {
    if (!this.producer) throw new MqbakError('internal', 'Kafka producer is closed');
    const { default: kafkajs } = await import('kafkajs');
    // kafkajs sends nothing and returns [] (no error) to a partition its cached metadata does not
    // know yet (just after createTopics/createPartitions, seen on the mock): nothing was written,
    // so sending again once metadata caught up is safe (and the producer is idempotent anyway).
    const producer = this.producer;
    const sendOnce = () => producer.send({
      topic,
      acks: -1,
      compression: kafkajs.CompressionTypes.None,
      messages: records.map((rec) => {
        // no prototype: a header named __proto__ stays a header
        const headers = Object.create(null) as Record<string, Buffer | Buffer[]>;
        for (const h of rec.headers) {
          const v = h.value === null ? EMPTY : asBuffer(h.value);
          const had = headers[h.name];
          if (had === undefined) headers[h.name] = v;
          else if (Array.isArray(had)) had.push(v);
          else headers[h.name] = [had, v];
        }
        return {
          partition,
          key: rec.key === null ? null : asBuffer(rec.key),
          value: rec.value === null ? null : asBuffer(rec.value),
          headers,
          timestamp: rec.timestamp === null ? undefined : String(rec.timestamp),
        };
      }),
    });
    let r = await sendOnce();
    for (let attempt = 1; attempt <= 10 && !r.some((x) => x.topicName === topic && x.partition === partition); attempt++) {
      await new Promise((res) => setTimeout(res, 200 * attempt));
      r = await sendOnce();
    }
    const meta = r.find((x) => x.topicName === topic && x.partition === partition);
    if (!meta || meta.baseOffset === undefined) throw new MqbakError('partial', `produce to ${topic}[${partition}]: no acknowledgement from the broker`);
    return BigInt(meta.baseOffset);
  }

  async disconnect(): Promise<void> {
    await this.batch?.close();
    await this.producer?.disconnect().catch(() => {});
  }
}
