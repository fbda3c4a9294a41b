/**
 * A backup-only Kafka reader of mqbak's own: Fetch requests (version 4, which every broker from
 * Kafka 0.11 to 4.x answers) sent to each partition's leader over kafkajs' connections, and the
 * answer's record batches decoded into RecordColumns (record-batches.ts) instead of kafkajs'
 * message objects. kafkajs' consumer spent most of a backup's main thread building, and then
 * collecting, an object, a Long and a header object per record (docs/PERFORMANCE.md).
 *
 * No consumer group is involved: nothing is joined, committed or left behind on the broker.
 */
import { MqbakError } from '../../common/errors.js';
import { raceAbort } from '../../common/abort.js';
import type { RecordColumns } from '../../common/record.js';
import { connectionsOf, InternalsMissing, kafkajsModule, type Internals, type KjsBroker } from './internals.js';
import { AnswerBuffers, readFetchAnswersInto } from './answer-buffers.js';
import { describe, isRetriable, Retries, sleep } from './retry.js';
import { decodeRecordBatches, nextFetchOffset, UnsupportedCompression, type AbortedTransaction } from './record-batches.js';
import { PartitionWindow } from './partition-window.js';

const FETCH_VERSION = 4;
/** Bytes a partition may send in one answer (a bigger first batch still comes whole: KIP-74). */
const PARTITION_MAX_BYTES = 2 * 1024 * 1024;
/** Bytes of one answer: two are held per broker (one decoded, the next arriving). */
const REQUEST_MAX_BYTES = 8 * 1024 * 1024;
const MAX_WAIT_MS = 500;
/**
 * Partitions read at once from one broker (partition-window.ts): more than the few that share
 * an answer's bytes (REQUEST_MAX_BYTES / PARTITION_MAX_BYTES), few enough that a topic of
 * thousands of small partitions ends them one after another.
 */
export const FETCH_WINDOW = 64;
/** How long answers may bring nothing below the end noted at start before the backup gives up. */
const MAX_EMPTY_MS = 30_000;
const OFFSET_OUT_OF_RANGE = 1;

export interface FetchRange {
  partition: number;
  /** inclusive */
  from: bigint;
  /** exclusive */
  to: bigint;
}

export interface FetchHandlers {
  /** Records of one partition, in offset order; awaited before that partition is fetched on. */
  columns(partition: number, columns: RecordColumns): Promise<void>;
  /** Offsets [from, to) the broker no longer has (deleted by retention while the backup ran). */
  gap(partition: number, from: bigint, to: bigint): void;
  /** The partition's first offset now (asked after the broker answered OFFSET_OUT_OF_RANGE). */
  lowWatermark(partition: number): Promise<bigint>;
  /** Loads a zstd decompressor, asked for on the first zstd batch; without it they are refused. */
  zstd?: () => Promise<(data: Uint8Array) => Uint8Array>;
  /** The partition is read to its end: every record and gap of it was handed over. */
  done?(partition: number): Promise<void>;
}

/** What this reader left to another one: [from, to) of the partition, and why. */
export interface Leftover extends FetchRange {
  reason: string;
}

interface PartitionRead extends FetchRange {
  /** where the next fetch of it starts */
  offset: bigint;
  /** its failures since its last good answer (retry.ts: backoff, then exit 5) */
  retries: Retries;
  /** since when its answers bring nothing (null: the last one brought records) */
  emptySince: number | null;
  lastError: unknown;
}

interface PartitionAnswer {
  errorCode: number;
  aborted: AbortedTransaction[];
  recordsStart: number;
  recordsEnd: number;
}

interface FetchAnswer {
  bytes: Buffer;
  partitions: Map<string, PartitionAnswer>;
}

/** Fetch response v4, with each partition's records left as bytes. */
export function decodeFetchV4(bytes: Buffer): FetchAnswer {
  let o = 4; // throttle_time_ms
  const need = (n: number) => {
    if (o + n > bytes.length) throw new Error(`Fetch response: ${bytes.length} bytes, cut off at ${o}`);
  };
  const partitions = new Map<string, PartitionAnswer>();
  need(4);
  const topics = bytes.readInt32BE(o);
  o += 4;
  for (let t = 0; t < topics; t++) {
    need(2);
    const nameLength = bytes.readInt16BE(o);
    need(2 + nameLength);
    const topic = bytes.toString('utf8', o + 2, o + 2 + nameLength);
    o += 2 + nameLength;
    need(4);
    const count = bytes.readInt32BE(o);
    o += 4;
    for (let i = 0; i < count; i++) {
      need(4 + 2 + 8 + 8 + 4);
      const partition = bytes.readInt32BE(o);
      const errorCode = bytes.readInt16BE(o + 4);
      o += 4 + 2 + 8 + 8; // high watermark, last stable offset: not needed
      const abortedCount = bytes.readInt32BE(o);
      o += 4;
      const aborted: AbortedTransaction[] = [];
      for (let a = 0; a < abortedCount; a++) {
        need(16);
        aborted.push({ producerId: bytes.readBigInt64BE(o), firstOffset: bytes.readBigInt64BE(o + 8) });
        o += 16;
      }
      need(4);
      const length = bytes.readInt32BE(o);
      o += 4;
      const n = Math.max(length, 0);
      need(n);
      partitions.set(`${topic}\u0000${partition}`, { errorCode, aborted, recordsStart: o, recordsEnd: o + n });
      o += n;
    }
  }
  return { bytes, partitions };
}

export class KafkaFetcher {
  private zstd: ((data: Uint8Array) => Uint8Array) | null = null;
  /** large answers are read into these, handed back once their records are handed over */
  private readonly buffers = new AnswerBuffers();

  private constructor(
    private readonly k: Internals,
    private readonly errorFromCode: (code: number) => Error & { retriable?: boolean; type?: string },
  ) {}

  /**
   * The reader over a cluster of the client's (admin.ts opens it, and closes it); InternalsMissing
   * when this kafkajs or the broker does not allow this reader (then kafkajs' consumer reads).
   */
  static async open(k: Internals): Promise<KafkaFetcher | InternalsMissing> {
    const errors = kafkajsModule<{ createErrorFromCode?: unknown }>('error');
    if (errors instanceof InternalsMissing) return errors;
    if (typeof errors.createErrorFromCode !== 'function') return new InternalsMissing("kafkajs' error table is not that of kafkajs 2.2");
    const versions = (await k.cluster.findControllerBroker()).versions?.[k.apiKeys.Fetch];
    if (!versions || versions.minVersion > FETCH_VERSION || versions.maxVersion < FETCH_VERSION) return new InternalsMissing(`the broker does not answer Fetch v${FETCH_VERSION}`);
    return new KafkaFetcher(k, errors.createErrorFromCode as (code: number) => Error);
  }

  /** One Fetch (v4) of several partitions of a topic from one broker. */
  private async fetch(broker: KjsBroker, topic: string, partitions: ReadonlyArray<{ partition: number; offset: bigint }>, readCommitted: boolean): Promise<FetchAnswer> {
    const protocol = this.k.requests.Fetch.protocol({ version: FETCH_VERSION })({
      replicaId: -1,
      isolationLevel: readCommitted ? 1 : 0,
      maxWaitTime: MAX_WAIT_MS,
      minBytes: 1,
      maxBytes: REQUEST_MAX_BYTES,
      topics: [{ topic, partitions: partitions.map((p) => ({ partition: p.partition, fetchOffset: p.offset.toString(), maxBytes: PARTITION_MAX_BYTES })) }],
    });
    // connections kafkajs opened since the last request, too
    readFetchAnswersInto(connectionsOf(broker), this.buffers, this.k.apiKeys.Fetch);
    return (await this.k.send(broker, {
      ...protocol,
      response: { decode: async (payload: Buffer) => decodeFetchV4(payload), parse: async (x: unknown) => x },
    })) as FetchAnswer;
  }

  /**
   * Reads [from, to) of each partition, handing each partition's records over in offset order.
   * Resolves with what it could not read itself (an older message format, an unsupported
   * compression codec...), for kafkajs' consumer to read; rejects on the first failure, once
   * no handler call is running any more.
   *
   * The partitions led by one broker are fetched together, `window` of them at a time (the next
   * one admitted as soon as one reaches its end), one request in flight per broker: the next
   * request goes out as soon as an answer's batch headers tell where each partition goes on,
   * and the broker prepares it while this thread decodes the answer's records.
   */
  async read(
    topic: string,
    ranges: readonly FetchRange[],
    isolation: 'read_committed' | 'read_uncommitted',
    handlers: FetchHandlers,
    signal: AbortSignal,
    window = FETCH_WINDOW,
  ): Promise<Leftover[]> {
    const readCommitted = isolation === 'read_committed';
    const leftovers: Leftover[] = [];
    let failure: unknown = null;
    const stopped = () => failure !== null || signal.aborted;
    const fail = (e: unknown) => {
      failure ??= e;
    };
    let todo: PartitionRead[] = ranges.filter((r) => r.from < r.to).map((r) => ({ ...r, offset: r.from, retries: new Retries(), emptySince: null, lastError: null }));
    const all = todo;

    // rounds: the partitions to read, grouped by leader; a partition whose leader answered with
    // a retriable error goes into the next round, after a metadata refresh
    while (todo.length > 0 && !stopped()) {
      const byBroker = new Map<KjsBroker, PartitionRead[]>();
      const retry: PartitionRead[] = [];
      // not admitted to a session's window before it stopped: read in the next round, no failure
      const later: PartitionRead[] = [];
      for (const p of todo) {
        try {
          const b = await this.k.leader(topic, p.partition);
          byBroker.set(b, [...(byBroker.get(b) ?? []), p]);
        } catch (e) {
          p.lastError = e;
          retry.push(p);
        }
      }
      await Promise.all(
        [...byBroker].map(([broker, parts]) =>
          this.session(broker, topic, new PartitionWindow(parts, window), readCommitted, handlers, stopped, { retry, later }, leftovers, signal).catch(fail),
        ),
      );
      if (stopped()) break;
      let wait = 0;
      for (const p of retry) {
        const w = p.retries.failed(p.lastError);
        if (w === null) {
          // gone, or refusing (authorization, ...): exit 5 either way
          const spent = isRetriable(p.lastError) ? `; still failing after ${Math.round(p.retries.failingFor() / 1000)} s of retries` : '';
          throw new MqbakError('unreachable', `fetch ${topic}[${p.partition}] at offset ${p.offset}: ${describe(p.lastError)}${spent}`);
        }
        wait = Math.max(wait, w);
      }
      if (retry.length > 0) {
        await sleep(wait, signal);
        // a moved leader, a broker gone or back: the next round asks the leaders anew
        await this.k.cluster.refreshMetadata().catch(() => {});
      }
      // the partitions begun first keep their place: their streams hold records
      todo = [...retry, ...later];
    }
    if (failure !== null) throw failure;
    if (signal.aborted) throw new MqbakError('interrupted', 'interrupted');
    // never a backup that looks whole with a partition not read to its cut
    const short = all.find((p) => p.offset < p.to);
    if (short) throw new MqbakError('internal', `fetch ${topic}[${short.partition}]: the read stopped at offset ${short.offset}, before the end ${short.to}`);
    return leftovers.sort((a, b) => a.partition - b.partition);
  }

  /**
   * Reads the window's partitions from one broker until each is done, left over, in `retry` (an
   * error of the broker's for it) or, when the session stops on a failure, in `later`. Throws
   * on anything else.
   */
  private async session(
    broker: KjsBroker,
    topic: string,
    window: PartitionWindow<PartitionRead>,
    readCommitted: boolean,
    handlers: FetchHandlers,
    stopped: () => boolean,
    next: { retry: PartitionRead[]; later: PartitionRead[] },
    leftovers: Leftover[],
    signal: AbortSignal,
  ): Promise<void> {
    const { retry } = next;
    let active = window.active;
    let turn = 0;
    const send = (ps: readonly PartitionRead[]) => {
      // the first partitions of a request get its bytes first: take turns
      const order = ps.map((_, i) => ps[(i + turn) % ps.length]!);
      turn++;
      const asked = order.map((p) => ({ p, offset: p.offset }));
      const answer = this.fetch(broker, topic, asked.map((a) => ({ partition: a.p.partition, offset: a.offset })), readCommitted);
      answer.catch(() => {}); // awaited below, or dropped after a failure
      return { asked, answer };
    };
    let inFlight: ReturnType<typeof send> | null = active.length > 0 ? send(active) : null;
    while (inFlight && !stopped()) {
      let answer: FetchAnswer;
      try {
        // a broker that never answers: the signal ends the wait ('interrupted', thrown below)
        answer = await raceAbort(inFlight.answer, signal);
      } catch (e) {
        if (e instanceof MqbakError) throw e;
        // the connection or the request failed: every partition of it is tried again
        for (const a of inFlight.asked) {
          a.p.offset = a.offset;
          a.p.lastError = e;
          retry.push(a.p);
        }
        const asked = new Set(inFlight.asked.map((a) => a.p));
        next.later.push(...active.filter((p) => !asked.has(p)), ...window.notAdmitted());
        return;
      }
      if (stopped()) return;
      // 1. what each partition's answer says, and where it goes on
      const results: Array<{ p: PartitionRead; from: bigint; part: PartitionAnswer }> = [];
      const dropped = new Set<PartitionRead>();
      for (const { p, offset } of inFlight.asked) {
        const part = answer.partitions.get(`${topic}\u0000${p.partition}`);
        if (!part) throw new MqbakError('unreachable', `fetch ${topic}[${p.partition}] at offset ${offset}: the broker's answer does not name this partition`);
        if (part.errorCode === OFFSET_OUT_OF_RANGE) {
          // deleted by retention since the start was noted: kept as a gap, never invented
          const low = await handlers.lowWatermark(p.partition);
          if (low <= offset) throw new MqbakError('partial', `fetch ${topic}[${p.partition}] at offset ${offset}: the broker answers OFFSET_OUT_OF_RANGE, yet its log starts at ${low}`);
          const to = low < p.to ? low : p.to;
          handlers.gap(p.partition, offset, to);
          p.offset = to;
          if (to >= p.to) await handlers.done?.(p.partition);
          continue;
        }
        if (part.errorCode !== 0) {
          p.lastError = this.errorFromCode(part.errorCode);
          retry.push(p);
          dropped.add(p);
          continue;
        }
        p.retries.succeeded();
        const next = nextFetchOffset(answer.bytes, part.recordsStart, part.recordsEnd, offset);
        if (next > offset) p.emptySince = null;
        else if ((p.emptySince ??= Date.now()) < Date.now() - MAX_EMPTY_MS) {
          // a new leader's high watermark may lag for a moment, not for this long
          throw new MqbakError('partial', `fetch ${topic}[${p.partition}] at offset ${offset}: the broker has sent nothing for ${MAX_EMPTY_MS / 1000} s below the end ${p.to} noted at start`);
        }
        p.offset = next;
        results.push({ p, from: offset, part });
      }
      // 2. the next request, before this answer's records are decoded
      active = window.keep((p) => p.offset < p.to && !dropped.has(p));
      if (results.length > 0 && results.every((r) => r.p.emptySince !== null)) await sleep(200);
      inFlight = active.length > 0 ? send(active) : null;
      // 3. this answer's records, partition by partition
      for (const { p, from, part } of results) {
        if (stopped()) return;
        let d: ReturnType<typeof decodeRecordBatches>;
        try {
          const options = { from, to: p.to, readCommitted, aborted: part.aborted, zstd: this.zstd };
          try {
            d = decodeRecordBatches(answer.bytes, part.recordsStart, part.recordsEnd, options);
          } catch (e) {
            // the decompressor is loaded on the first zstd batch (zstd-codec takes a heap of its own)
            if (!(e instanceof UnsupportedCompression) || e.codec !== 'zstd' || this.zstd || !handlers.zstd) throw e;
            this.zstd = await handlers.zstd();
            d = decodeRecordBatches(answer.bytes, part.recordsStart, part.recordsEnd, { ...options, zstd: this.zstd });
          }
        } catch (e) {
          if (e instanceof UnsupportedCompression) {
            throw new MqbakError('unsupported', `${topic}[${p.partition}]: ${e.message}: mqbak cannot decode it`, {
              hint: 'nothing was stored as a backup; mqbak reads batches that are uncompressed or compressed with gzip, snappy, lz4 or zstd',
            });
          }
          throw new MqbakError('partial', `fetch ${topic}[${p.partition}] at offset ${from}: ${describe(e)}`);
        }
        for (const cols of d.columns) {
          if (stopped()) return;
          await handlers.columns(p.partition, cols);
        }
        if (d.unsupported) {
          // kafkajs' consumer reads on from here; what was asked for it since is dropped
          leftovers.push({ partition: p.partition, from: d.unsupported.offset, to: p.to, reason: d.unsupported.reason });
          p.offset = p.to;
          active = window.keep((x) => x !== p);
        } else if (d.next !== p.offset) {
          throw new MqbakError('internal', `fetch ${topic}[${p.partition}]: batches end at ${d.next}, headers said ${p.offset}`);
        } else if (p.offset >= p.to) {
          await handlers.done?.(p.partition);
        }
      }
      // every record of it was handed over (a RecordSink copies what it keeps before it resolves):
      // its buffer takes a later answer (an answer given up above is left to the garbage collector)
      this.buffers.release(answer.bytes);
      if (inFlight) inFlight.asked = inFlight.asked.filter((a) => active.includes(a.p));
      // partitions admitted in place of one left over after the last request went out
      else if (active.length > 0) inFlight = send(active);
    }
  }

}
