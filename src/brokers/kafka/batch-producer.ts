/**
 * A restore-only Kafka producer that encodes record batches itself, in one buffer per request,
 * and sends them over kafkajs' own connections (bootstrap, TLS, SASL, ApiVersions and metadata
 * all stay kafkajs'). kafkajs' producer allocates and copies every record and header several
 * times and checks one byte at a time; that, not the broker, bounded restores.
 *
 * Semantics are those of an idempotent producer (acks -1): InitProducerId once, then per
 * partition a sequence number that advances by the records of each acknowledged batch. A batch
 * is resent with the same bytes (same sequence: the broker drops a duplicate) after a retriable
 * error. One request per partition is in flight; requests for different partitions go out
 * concurrently on the same connection.
 *
 * Unlike kafkajs' producer it keeps the header order as stored (a, b, a stays a, b, a) and null
 * header values null.
 *
 * It reaches into kafkajs 2.2's internals (the cluster factory of a Kafka client, the broker's
 * request lookup): open() returns InternalsMissing when they are not what it expects, and the
 * caller falls back to kafkajs' producer.
 */
import type { Kafka } from 'kafkajs';
import { MqbakError } from '../../common/errors.js';
import { columnsOf, sliceCount, type ArchiveRecord, type RecordColumns, type RecordSlice } from '../../common/record.js';
import { crc32c } from './crc32c.js';
import { Crc32cWorker } from './crc32c-worker.js';
import { BatchBuffers } from './batch-buffers.js';
import { utf8Name } from '../../common/utf8-names.js';
import { InternalsMissing, openCluster, type Internals, type KjsRequest } from './internals.js';
import { raceAbort } from '../../common/abort.js';
import { describe, isBrokerGone, isRetriable, retried, Retries, sleep } from './retry.js';

const MAGIC = 2;
const BATCH_HEADER = 61;
const NO_PARTITION_LEADER_EPOCH = -1;
const REQUEST_TIMEOUT_MS = 30_000;
/** Smaller batches are checksummed in this thread (moving them costs more than it saves). */
const CRC_IN_WORKER_MIN_RECORDS = 64;

// ---- encoding (pure) ----

function zigzag(v: number): number {
  return v >= 0 ? v * 2 : -v * 2 - 1;
}

/** Bytes of an unsigned varint of v (0 <= v < 2^53). */
function uvarintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function writeUVarint(buf: Uint8Array, o: number, v: number): number {
  while (v >= 128) {
    buf[o++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[o++] = v;
  return o;
}

export interface BatchIdentity {
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
}

/** Kafka's "no timestamp" in a record batch (what the broker writes when it converts a v0 message). */
export const NO_TIMESTAMP = -1;

/**
 * The timestamp of record i, NO_TIMESTAMP when it has none (a record stored in message format
 * v0): the restore time would pass for the record's own.
 */
function timestampOf(c: RecordColumns, i: number): number {
  const t = c.timestamp[i]!;
  return Number.isNaN(t) ? NO_TIMESTAMP : t;
}

function spanSize(length: number): number {
  return length < 0 ? 1 : uvarintSize(zigzag(length)) + length;
}

/** Bytes the records will take in a record batch, with the batch header; each record's body size in sizes. */
function recordSizes(slices: readonly RecordSlice[], base: number, sizes: Int32Array): number {
  let total = BATCH_HEADER;
  let k = 0;
  for (const { cols: c, from, to } of slices) {
    for (let i = from; i < to; i++, k++) {
      let body = 1 + uvarintSize(zigzag(timestampOf(c, i) - base)) + uvarintSize(zigzag(k));
      body += spanSize(c.keyLength[i]!) + spanSize(c.valueLength[i]!);
      const h0 = c.headerStart[i]!;
      const h1 = c.headerStart[i + 1]!;
      body += uvarintSize(zigzag(h1 - h0));
      for (let h = h0; h < h1; h++) body += spanSize(c.headerNameLength[h]!) + spanSize(c.headerValueLength[h]!);
      sizes[k] = body;
      total += uvarintSize(zigzag(body)) + body;
    }
  }
  return total;
}

function writeSpan(out: Uint8Array, o: number, src: Uint8Array, start: number, length: number): number {
  if (length < 0) {
    out[o] = 1; // zigzag(-1)
    return o + 1;
  }
  o = writeUVarint(out, o, zigzag(length));
  // short fields (header names and values, keys) byte by byte: cheaper than a subarray each
  if (length < 48) for (let k = 0; k < length; k++) out[o + k] = src[start + k]!;
  else out.set(src.subarray(start, start + length), o);
  return o + length;
}

/**
 * Writes one uncompressed record batch (magic 2) holding the records at `at` of `out` (which must
 * have room: see recordSizes) and returns the offset after it.
 */
function writeRecordBatch(out: Buffer, at: number, slices: readonly RecordSlice[], count: number, id: BatchIdentity, base: number, sizes: Int32Array, total: number, crc = true): number {
  let maxTs = base;
  for (const { cols, from, to } of slices) {
    for (let i = from; i < to; i++) {
      const ts = timestampOf(cols, i);
      if (ts > maxTs) maxTs = ts;
    }
  }
  out.writeBigInt64BE(0n, at);
  out.writeInt32BE(total - 12, at + 8);
  out.writeInt32BE(NO_PARTITION_LEADER_EPOCH, at + 12);
  out[at + 16] = MAGIC;
  // crc (at + 17) last
  out.writeInt16BE(0, at + 21); // attributes: no compression, CreateTime, not transactional
  out.writeInt32BE(count - 1, at + 23);
  out.writeBigInt64BE(BigInt(base), at + 27);
  out.writeBigInt64BE(BigInt(maxTs), at + 35);
  out.writeBigInt64BE(id.producerId, at + 43);
  out.writeInt16BE(id.producerEpoch, at + 51);
  out.writeInt32BE(id.baseSequence, at + 53);
  out.writeInt32BE(count, at + 57);
  let o = at + BATCH_HEADER;
  let k = 0;
  for (const { cols: c, from, to } of slices) {
    const src = c.bytes;
    for (let i = from; i < to; i++, k++) {
      o = writeUVarint(out, o, zigzag(sizes[k]!));
      out[o++] = 0; // record attributes
      o = writeUVarint(out, o, zigzag(timestampOf(c, i) - base));
      o = writeUVarint(out, o, zigzag(k));
      o = writeSpan(out, o, src, c.keyStart[i]!, c.keyLength[i]!);
      o = writeSpan(out, o, src, c.valueStart[i]!, c.valueLength[i]!);
      const h0 = c.headerStart[i]!;
      const h1 = c.headerStart[i + 1]!;
      o = writeUVarint(out, o, zigzag(h1 - h0));
      for (let h = h0; h < h1; h++) {
        o = writeSpan(out, o, src, c.headerNameStart[h]!, c.headerNameLength[h]!);
        o = writeSpan(out, o, src, c.headerValueStart[h]!, c.headerValueLength[h]!);
      }
    }
  }
  if (o - at !== total) throw new MqbakError('internal', `record batch: wrote ${o - at} of ${total} bytes`);
  if (crc) out.writeUInt32BE(crc32c(out, at + 21, o), at + 17);
  return o;
}

/** The records as the one slice of their columns. */
function wholeSlice(records: readonly ArchiveRecord[]): RecordSlice[] {
  return [{ cols: columnsOf(records), from: 0, to: records.length }];
}

function firstTimestamp(slices: readonly RecordSlice[]): number {
  const s = slices.find((x) => x.to > x.from);
  if (!s) throw new MqbakError('internal', 'record batch: no records');
  return timestampOf(s.cols, s.from);
}

/** One record batch (magic 2, uncompressed) as Kafka stores it; a record without a timestamp gets NO_TIMESTAMP. */
export function encodeRecordBatch(records: readonly ArchiveRecord[], id: BatchIdentity): Buffer {
  return encodeSlicesBatch(wholeSlice(records), id);
}

/** encodeRecordBatch of the records of the slices, in order. */
export function encodeSlicesBatch(slices: readonly RecordSlice[], id: BatchIdentity): Buffer {
  const count = sliceCount(slices);
  const base = firstTimestamp(slices);
  const sizes = new Int32Array(count);
  const total = recordSizes(slices, base, sizes);
  const out = Buffer.allocUnsafe(total);
  writeRecordBatch(out, 0, slices, count, id, base, sizes, total);
  return out;
}

/**
 * The body of a Produce request (versions 3 to 8 share it) carrying one record batch for one
 * partition: transactional_id null, acks, timeout, [topic [partition records]].
 */
export function encodeProduceBody(topic: string, partition: number, records: readonly ArchiveRecord[], id: BatchIdentity, acks: number, timeoutMs: number): Buffer {
  return produceBody(topic, partition, wholeSlice(records), id, acks, timeoutMs, true).body;
}

/** The CRC-32C a batch still needs: of body[start, end), written at `at`. */
interface PendingCrc {
  body: Buffer;
  at: number;
  start: number;
  end: number;
}

/** `prefix` bytes are left free at the start of the body (for the request's frame header). */
function produceBody(
  topic: string,
  partition: number,
  slices: readonly RecordSlice[],
  id: BatchIdentity,
  acks: number,
  timeoutMs: number,
  crc: boolean,
  prefix = 0,
  alloc: (length: number) => Buffer = Buffer.allocUnsafeSlow,
): PendingCrc {
  const count = sliceCount(slices);
  const name = utf8Name(topic);
  const base = firstTimestamp(slices);
  const sizes = new Int32Array(count);
  const batch = recordSizes(slices, base, sizes);
  const head = 2 + 2 + 4 + 4 + 2 + name.length + 4 + 4 + 4;
  // memory of its own (never Buffer's shared pool), so it can move to a worker
  const out = alloc(prefix + head + batch);
  let o = out.writeInt16BE(-1, prefix); // transactional_id: null
  o = out.writeInt16BE(acks, o);
  o = out.writeInt32BE(timeoutMs, o);
  o = out.writeInt32BE(1, o); // one topic
  o = out.writeInt16BE(name.length, o);
  out.set(name, o);
  o += name.length;
  o = out.writeInt32BE(1, o); // one partition
  o = out.writeInt32BE(partition, o);
  o = out.writeInt32BE(batch, o);
  const end = writeRecordBatch(out, o, slices, count, id, base, sizes, batch, crc);
  return { body: out, at: o + 17, start: o + 21, end };
}

// ---- sending, over kafkajs' connections ----

/** A batch encoded for one partition, its checksum possibly still being computed. */
export interface PreparedBatch {
  readonly topic: string;
  readonly partition: number;
  /** Bytes before the request body, left for the frame header (Internals.sendFrame). */
  readonly prefix: number;
  readonly body: Promise<Buffer>;
}

interface ProduceResult {
  topics: Array<{ topicName: string; partitions: Array<{ partition: number; errorCode: number; baseOffset: string }> }>;
}

export class BatchProducer {
  private readonly sequences = new Map<string, number>();
  /** Partitions written under the producer id of an earlier run (adopt), by topic/partition. */
  private readonly adopted = new Map<string, { producerId: bigint; producerEpoch: number }>();
  /** Request memory, used again once a request is answered (batch-buffers.ts). */
  private readonly buffers = new BatchBuffers();

  private constructor(
    private readonly k: Internals,
    private readonly producerId: bigint,
    private readonly producerEpoch: number,
    private readonly crcWorker: Crc32cWorker | null,
  ) {}

  /** Connects and initialises the producer id; InternalsMissing when this kafkajs or broker is not suitable. */
  static async open(kafka: Kafka, options: { crcWorker?: boolean; signal?: AbortSignal } = {}): Promise<BatchProducer | InternalsMissing> {
    const k = await openCluster(kafka);
    if (k instanceof InternalsMissing) return k;
    try {
      const broker = await k.cluster.findControllerBroker();
      const lookup = broker.lookupRequest(k.apiKeys.Produce, k.requests.Produce)({ acks: -1, timeout: REQUEST_TIMEOUT_MS, topicData: [] });
      if (lookup.request.apiVersion < 3) {
        await k.cluster.disconnect();
        return new InternalsMissing('the broker does not answer Produce v3 (Kafka before 0.11)');
      }
      // the producer id comes from any broker (kafkajs asks the controller); one refusing for a
      // moment (REQUEST_TIMED_OUT, a coordinator loading) is retried like any request
      const pid = await retried(
        'InitProducerId',
        async () => (await k.cluster.findControllerBroker()).initProducerId({ transactionTimeout: REQUEST_TIMEOUT_MS }),
        () => k.cluster.refreshMetadata(),
        options.signal,
      );
      return new BatchProducer(k, BigInt(pid.producerId), pid.producerEpoch, options.crcWorker === false ? null : new Crc32cWorker());
    } catch (e) {
      await k.cluster.disconnect().catch(() => {});
      throw e;
    }
  }

  /**
   * Encodes the records as the partition's next batch (its sequence numbers taken now) and starts
   * its checksum beside this thread. Batches of a partition must be transmitted in the order they
   * were prepared, each once the one before it is acknowledged; a failed transmit ends the
   * producer's use for that partition (the sequences after it are spent).
   */
  prepare(topic: string, partition: number, records: readonly RecordSlice[]): PreparedBatch {
    const count = sliceCount(records);
    const key = `${topic}\u0000${partition}`;
    const baseSequence = this.sequences.get(key) ?? 0;
    const own = this.adopted.get(key) ?? { producerId: this.producerId, producerEpoch: this.producerEpoch };
    const id = { producerId: own.producerId, producerEpoch: own.producerEpoch, baseSequence };
    let body: Promise<Buffer>;
    // the checksum of a larger batch is computed beside this thread, which goes on with the next
    const inWorker = this.crcWorker !== null && count >= CRC_IN_WORKER_MIN_RECORDS;
    const prefix = this.k.frameHeaderSize ?? 0;
    const p = produceBody(topic, partition, records, id, -1, REQUEST_TIMEOUT_MS, !inWorker, prefix, (n) => this.buffers.take(n));
    if (inWorker) {
      body = this.crcWorker!.fill(p.body, p.at, p.start, p.end);
      body.catch(() => {}); // surfaces in transmit
    } else {
      body = Promise.resolve(p.body);
    }
    // int32 sequences wrap around, as in Kafka's producer
    this.sequences.set(key, (baseSequence + count) % 2 ** 31);
    return { topic, partition, prefix, body };
  }

  /** This producer's id and epoch (InitProducerId). */
  identity(): { producerId: bigint; producerEpoch: number } {
    return { producerId: this.producerId, producerEpoch: this.producerEpoch };
  }

  /** The identity and the sequence the partition's next prepared batch gets (adopted or this producer's own). */
  position(topic: string, partition: number): { producerId: bigint; producerEpoch: number; nextSequence: number } {
    const key = `${topic}\u0000${partition}`;
    const own = this.adopted.get(key) ?? { producerId: this.producerId, producerEpoch: this.producerEpoch };
    return { ...own, nextSequence: this.sequences.get(key) ?? 0 };
  }

  /**
   * Writes the partition on as the producer id and epoch of an interrupted earlier run, from
   * sequence `nextSequence`: a batch that run had sent is then sent again with the same
   * sequence, and the broker acknowledges it where it first stored it instead of storing it
   * twice (see stream-writer.ts, resume). Before the partition's first prepare.
   */
  adopt(topic: string, partition: number, producerId: bigint, producerEpoch: number, nextSequence: number): void {
    const key = `${topic}\u0000${partition}`;
    this.adopted.set(key, { producerId, producerEpoch });
    this.sequences.set(key, nextSequence % 2 ** 31);
  }

  /** Sends a prepared batch (retrying with the same bytes); resolves with its base offset. */
  async transmit(prepared: PreparedBatch, signal?: AbortSignal): Promise<bigint> {
    const { topic, partition } = prepared;
    let frame = await prepared.body;
    const body = frame.subarray(prepared.prefix);
    // kafkajs' request framing takes an Encoder; a stand-in holding the finished bytes
    const payload = { buf: body, buffer: body, size: () => body.length };
    const retries = new Retries();
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new MqbakError('interrupted', 'interrupted');
      try {
        const broker = await this.k.leader(topic, partition);
        const protocol = broker.lookupRequest(this.k.apiKeys.Produce, this.k.requests.Produce)({ acks: -1, timeout: REQUEST_TIMEOUT_MS, topicData: [] });
        const request: KjsRequest = { ...protocol.request, encode: async () => payload };
        // a resend gets a copy: the first try's bytes may still sit in the socket's queue
        if (attempt > 1 && prepared.prefix > 0) frame = Buffer.from(frame);
        // a broker that takes the request and never answers: the signal ends the wait (if the batch
        // did land, the rerun's resume finds it on the target)
        const framed = prepared.prefix > 0 ? await raceAbort(this.k.sendFrame(broker, { ...protocol, request }, frame), signal) : null;
        const result = (framed ? framed.result : await raceAbort(this.k.send(broker, { ...protocol, request }), signal)) as ProduceResult;
        const p = result.topics.find((t) => t.topicName === topic)?.partitions.find((x) => x.partition === partition);
        if (!p) throw new MqbakError('partial', `produce to ${topic}[${partition}]: the broker's answer does not name this partition`);
        // answered: the request's bytes were all sent and are read no more
        this.buffers.give(frame);
        return BigInt(p.baseOffset);
      } catch (e) {
        if (e instanceof MqbakError) throw e;
        const wait = retries.failed(e);
        if (wait === null) {
          // retriable to the end, or the broker gone: exit 5; the broker refusing the batch: exit 3
          const gone = isRetriable(e) || isBrokerGone(e);
          const spent = isRetriable(e) ? `; still failing after ${Math.round(retries.failingFor() / 1000)} s of retries` : '';
          throw new MqbakError(gone ? 'unreachable' : 'partial', `produce to ${topic}[${partition}]: ${describe(e)}${spent}`);
        }
        // same bytes, same sequence: if the first try did land, the broker answers it as a duplicate
        await sleep(wait, signal);
        await this.k.cluster.refreshMetadata().catch(() => {});
      }
    }
  }

  async close(): Promise<void> {
    await this.crcWorker?.close();
    await this.k.cluster.disconnect().catch(() => {});
  }
}
