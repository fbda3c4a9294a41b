/**
 * The Kafka backup source: the topics chosen by --topics / --topic-regex, a consistent cut per
 * partition (its end noted before anything is read), topic configs and group offsets as of the
 * cut, and the read of each topic's partitions together.
 */
import type { AdapterContext, AdapterOptionValues, BrokerSource, ReadOutcome, ReadRequest, RecordSink, SourceSelection, SourceStream } from '../adapter.js';
import { MqbakError, messageOf } from '../../common/errors.js';
import type { ArchiveRecord, RecordColumns } from '../../common/record.js';
import { asKafkaAddress, kafkaAddress, streamName } from './address.js';
import { KafkaAdmin } from './admin.js';
import { unreachable } from './client.js';
import { readWithConsumer, type ReadRange } from './consumer-reader.js';
import type { KafkaFetcher } from './fetcher.js';
import { InternalsMissing } from './internals.js';
import { topicIds } from './topic-ids.js';
import { retried } from './retry.js';
import { connectionFrom, isolationOf, listOption, namedTopics, readerKind, redactUrl, topicRegexOf, type Isolation, type KafkaReaderKind } from './options.js';

type Decompress = (data: Uint8Array) => Uint8Array;

/** The clients whose fallback to kafkajs' consumer was told already (once a run). */
const fallbackTold = new WeakSet<KafkaAdmin>();

export interface TopicReadHandlers {
  /** Records of one partition in offset order, from mqbak's own reader (no object per record). */
  columns(partition: number, columns: RecordColumns): Promise<void>;
  /** The same, from kafkajs' consumer (where mqbak's reader cannot read a partition's batches). */
  records(partition: number, records: ArchiveRecord[]): Promise<void>;
  /** Offsets [from, to) deleted by retention after the backup noted its start. */
  gap(partition: number, from: bigint, to: bigint): void;
  warn(partition: number, message: string): void;
  /** A fact for the user (the reader used). */
  info?(message: string): void;
  /** Loads a zstd decompressor (any frame, content size or not), for zstd batches. */
  zstd?: () => Promise<Decompress>;
  /** Every record and gap of the partition up to its end was handed over (mqbak's own reader). */
  done?(partition: number): Promise<void>;
}

/**
 * Reads [from, to) of each partition and hands the records over in offset order per partition;
 * each handler call is awaited before that partition is read on (backpressure from the writer).
 * Resolves once every partition reached its end. 'fetch' (the default) is mqbak's own Fetch
 * reader (fetcher.ts), with kafkajs' consumer taking over a partition from a batch the former
 * leaves to it (the message format of Kafka before 0.11, a header name that is not UTF-8);
 * 'kafkajs' reads everything through kafkajs' consumer (which, without codecs registered, cannot
 * read snappy, lz4 or zstd batches).
 */
export async function readTopic(
  admin: KafkaAdmin,
  topic: string,
  ranges: ReadRange[],
  isolation: Isolation,
  handlers: TopicReadHandlers,
  signal: AbortSignal,
  reader: KafkaReaderKind = 'fetch',
): Promise<void> {
  let rest = ranges;
  if (reader === 'fetch') {
    let fetcher: KafkaFetcher | InternalsMissing;
    try {
      fetcher = await admin.fetcher();
    } catch (e) {
      throw unreachable(e, `read ${topic}`);
    }
    if (fetcher instanceof InternalsMissing) {
      if (!fallbackTold.has(admin)) handlers.info?.(`mqbak's own Fetch reader is unavailable (${fetcher.reason}): reading through kafkajs' consumer`);
      fallbackTold.add(admin);
    } else {
      const lowWatermark = async (p: number) => (await admin.watermarks(topic)).get(p)?.low ?? 0n;
      const left = await fetcher.read(topic, ranges, isolation, { columns: handlers.columns, gap: handlers.gap, lowWatermark, zstd: handlers.zstd, done: handlers.done }, signal);
      for (const l of left) handlers.warn(l.partition, `${topic}[${l.partition}] from offset ${l.from}: ${l.reason}: read through kafkajs' consumer instead`);
      // the partitions done stay in, empty, so that the consumer pauses them
      rest = ranges.map((r) => left.find((l) => l.partition === r.partition) ?? { partition: r.partition, from: r.to, to: r.to });
      if (left.length === 0) return;
    }
  }
  await readWithConsumer(admin, topic, rest, isolation, handlers.records, signal);
}

export class KafkaSource implements BrokerSource {
  private topics: string[] | null = null;
  private layout: Record<string, { partitions: number; replicationFactor: number }> = {};
  private records = 0;

  private constructor(
    private readonly admin: KafkaAdmin,
    private readonly url: string,
    private readonly options: AdapterOptionValues,
    private readonly ctx: AdapterContext,
    private readonly isolation: Isolation,
    private readonly reader: KafkaReaderKind,
  ) {}

  static async open(url: string, options: AdapterOptionValues, ctx: AdapterContext): Promise<KafkaSource> {
    const env = ctx.env;
    const isolation = isolationOf(options);
    const reader = readerKind(env);
    const admin = await KafkaAdmin.connect(await connectionFrom(url, options, env, ctx));
    return new KafkaSource(admin, url, options, ctx, isolation, reader);
  }

  /** The topics and their cut: each partition's watermarks, noted before anything is read. */
  async select(): Promise<SourceSelection> {
    const all = await this.admin.listTopics();
    const regex = topicRegexOf(this.options);
    const named = namedTopics(this.options) ?? [];
    const chosen = regex ? [...all.filter((t) => regex.test(t)), ...named] : named;
    const topics = [...new Set(chosen)].sort();
    if (topics.length === 0) throw new MqbakError('not-found', 'no topic to back up', { hint: 'check --topics / --topic-regex (mqbak skips internal __ topics)' });
    for (const t of topics) if (!all.includes(t)) throw new MqbakError('not-found', `topic ${t} not found on ${redactUrl(this.url)}`);
    const clusterId = await this.admin.clusterId();
    const ids = await this.topicIds(topics);

    // the cut: every partition's watermarks before anything is read
    const streams: SourceStream[] = [];
    const layout: Record<string, { partitions: number; replicationFactor: number }> = {};
    for (const t of topics) {
      const parts = await this.admin.partitions(t);
      const marks = await this.admin.watermarks(t);
      layout[t] = { partitions: parts.length, replicationFactor: parts[0]?.replicationFactor ?? 1 };
      for (const [p, m] of [...marks].sort((a, b) => a[0] - b[0])) {
        // the topic id: a topic deleted and created again is another lineage, never an incremental with a hole
        const lineage = ids?.get(t);
        streams.push({ name: streamName(t, p), address: kafkaAddress(t, p), mode: 'log', start: m.low, end: m.high, extra: {}, ...(lineage ? { lineage } : {}) });
      }
    }
    this.layout = layout;
    this.topics = topics;
    return {
      chainKey: `kafka:${clusterId}:${topics.join(',')}`,
      options: { isolation: this.isolation, end: 'last stable offset (ListOffsets latest, read_committed) noted at start' },
      streams,
      warnings: [],
    };
  }

  /**
   * Each topic's id, or null when the broker (before Kafka 2.8) or kafkajs (internals missing)
   * does not tell them: then only the partitions' ends tell a recreated topic. Asked whichever
   * reader reads, so that MQBAK_KAFKA_CONSUMER does not change the lineage.
   */
  private async topicIds(topics: string[]): Promise<Map<string, string> | null> {
    const k = await this.admin.internals().catch((e: unknown) => {
      throw unreachable(e, 'connect to Kafka');
    });
    if (k instanceof InternalsMissing) return null;
    const ids = await retried('topic ids (Metadata v10)', () => topicIds(k, topics), undefined, this.ctx.signal);
    return ids && topics.every((t) => ids.has(t)) ? ids : null;
  }

  /** Committed offsets of --groups, or of every group the broker lists with commits on these topics. */
  private async groupOffsets(topics: string[], warnings: string[]): Promise<unknown> {
    const named = listOption(this.options, 'groups');
    const groupIds = named ?? (await this.admin.listGroups());
    if (groupIds === null) {
      warnings.push('the broker did not list consumer groups (ListGroups): no group offsets saved; name them with --groups');
      return 'unavailable';
    }
    const groups: Record<string, unknown> = {};
    for (const g of groupIds) {
      if (g.startsWith('mqbak-')) continue;
      try {
        const offsets = await this.admin.groupOffsets(g, topics);
        if (Object.keys(offsets).length > 0 || named) groups[g] = offsets;
      } catch (e) {
        warnings.push(`offsets of group ${g}: unavailable (${messageOf(e)})`);
      }
    }
    return groups;
  }

  /** Called before reading: a group committing during the backup is saved as it was at the cut. */
  async metadata(_selection: SourceSelection): Promise<{ metadata: Record<string, unknown>; warnings: string[] }> {
    if (this.topics === null) throw new MqbakError('internal', 'Kafka source: metadata() before select()');
    const topics: Record<string, unknown> = {};
    for (const t of this.topics) topics[t] = { ...this.layout[t], configs: (await this.admin.topicConfigs(t)) ?? 'unavailable' };
    const warnings: string[] = [];
    const groups = await this.groupOffsets(this.topics, warnings);
    return { metadata: { topics, groups }, warnings };
  }

  /**
   * Reads each topic's partitions together. A request starting before the partition's first
   * offset (an incremental whose parent ended where retention has since deleted) gets the
   * deleted range as a gap.
   */
  async read(requests: ReadRequest[], options: { signal: AbortSignal }): Promise<ReadOutcome> {
    const to = new Map<string, bigint>();
    const byTopic = new Map<string, ReadRequest[]>();
    for (const r of requests) {
      const t = asKafkaAddress(r.stream.address).topic;
      const list = byTopic.get(t);
      if (list) list.push(r);
      else byTopic.set(t, [r]);
    }
    for (const [topic, list] of byTopic) {
      const ranges: ReadRange[] = [];
      const outs = new Map<number, RecordSink>();
      for (const r of list) {
        const { partition } = asKafkaAddress(r.stream.address);
        let from = r.from;
        const low = r.stream.start ?? from;
        if (from < low) {
          r.out.addGap(from, low, 'retention');
          r.out.warn(`${topic}[${partition}]: offsets ${from}..${low - 1n} were deleted by retention before they were backed up`);
          from = low;
        }
        const end = r.stream.end ?? from;
        ranges.push({ partition, from, to: end > from ? end : from });
        outs.set(partition, r.out);
        to.set(r.stream.name, end > from ? end : from);
      }
      this.ctx.progress.phase(`backing up ${topic} (${ranges.length} partitions)`);
      await readTopic(this.admin, topic, ranges, this.isolation, this.handlers(topic, outs, ranges), options.signal, this.reader);
      // the topic is read: its partitions' streams are stored now, before the next topic's read
      for (const out of outs.values()) await out.end?.();
    }
    return { to };
  }

  private handlers(topic: string, outs: Map<number, RecordSink>, ranges: readonly ReadRange[]): TopicReadHandlers {
    const counted = (n: number) => {
      this.records += n;
      this.ctx.progress.update({ stream: topic, records: this.records });
    };
    // the last offset before each partition's cut: once appended, nothing more comes for it
    // (a partition ending in control records or compacted away ends once the reader is done
    // with it, or with its topic when kafkajs' consumer reads it)
    const lastOffset = new Map(ranges.map((r) => [r.partition, r.to - 1n]));
    const endAt = async (p: number, last: bigint) => {
      if (last >= lastOffset.get(p)!) await outs.get(p)!.end?.();
    };
    return {
      columns: async (p, cols) => {
        await outs.get(p)!.appendColumns(cols);
        counted(cols.count);
        if (cols.count > 0) await endAt(p, BigInt(cols.position[cols.count - 1]!));
      },
      records: async (p, batch) => {
        await outs.get(p)!.appendMany(batch);
        counted(batch.length);
        if (batch.length > 0) await endAt(p, batch[batch.length - 1]!.position);
      },
      gap: (p, from, end) => {
        const out = outs.get(p)!;
        out.addGap(from, end, 'retention');
        out.warn(`${topic}[${p}]: offsets ${from}..${end - 1n} were deleted by retention while the backup ran`);
      },
      warn: (p, message) => outs.get(p)!.warn(message),
      info: (message) => this.ctx.progress.info(message),
      zstd: this.ctx.zstd,
      done: async (p) => {
        await outs.get(p)!.end?.();
      },
    };
  }

  /** Kafka has nothing to add to the core's per-partition summary. */
  report(): { lines: string[]; streams: Record<string, Record<string, unknown>> } {
    return { lines: [], streams: {} };
  }

  async close(): Promise<void> {
    await this.admin.disconnect();
  }
}
