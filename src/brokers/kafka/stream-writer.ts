/**
 * Writing one target partition: records cut into Kafka record batches, each partition's next
 * batch encoded (and checksummed) while the one before it is on the wire, one request per
 * partition in flight, every acknowledged base offset checked, and the offset runs of what landed.
 * A restore resumes by counting: with one writer per partition and ordered acknowledged writes,
 * (the target's end now - its end before this restore first wrote) planned records are there.
 */
import type { JournalEntry, OffsetRun, PlannedTarget, StreamAddress, StreamWriter, WriteAck } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import type { RecordColumns, RecordSlice } from '../../common/record.js';
import type { ReleasesEarlierWrites } from '../../common/block-bytes.js';
import { asKafkaAddress } from './address.js';
import type { KafkaProducer } from './producer.js';

// One produce request per batch. A record batch must stay under the broker's message.max.bytes
// (1 MiB + 12 by default): batches are cut before they would pass BATCH_BYTES (with room for the
// per-record framing); a record larger than that goes alone and the broker decides.
const BATCH_RECORDS = 10_000;
const BATCH_BYTES = 1_000_000;
/**
 * The records at the end of a write that do not fill a request wait for the next write to fill
 * it, so that requests stay about BATCH_BYTES across archive blocks (a 1 MiB block is a little
 * more than one request: sent whole, each block would also make a small second request). The
 * core ends every stream with an empty write, which sends them; close() sends them too. They wait
 * for one write only: what the next write does not fill goes out with it (ReleasesEarlierWrites).
 */
const HOLD_TAIL = true;

type Cut = Array<{ cols: RecordColumns; from: number; to: number }>;

/** Bytes record i takes in a Kafka record batch, framing estimated generously. */
function recordSize(c: RecordColumns, i: number): number {
  let n = 32 + Math.max(c.keyLength[i]!, 0) + Math.max(c.valueLength[i]!, 0);
  for (let h = c.headerStart[i]!; h < c.headerStart[i + 1]!; h++) n += 10 + c.headerNameLength[h]! + Math.max(c.headerValueLength[h]!, 0);
  return n;
}

/** Offset runs from acknowledged (source, target) pairs given in order. */
export class OffsetRunBuilder {
  private cur: OffsetRun | null = null;
  readonly runs: OffsetRun[] = [];
  constructor(
    private readonly stream: string,
    private readonly source: StreamAddress,
    private readonly target: StreamAddress,
  ) {}

  add(source: bigint, target: bigint): void {
    const c = this.cur;
    if (c && source === c.sourceEnd + 1n && target === c.targetStart + (c.sourceEnd - c.sourceStart) + 1n) {
      c.sourceEnd = source;
      return;
    }
    this.cur = { stream: this.stream, source: this.source, target: this.target, sourceStart: source, sourceEnd: source, targetStart: target };
    this.runs.push(this.cur);
  }

  /**
   * add() for records from .. to - 1 of a column of positions (exact integers), restored at
   * target, target + 1, ...: BigInts only where a run starts or ends.
   */
  addPositions(positions: ArrayLike<number>, from: number, to: number, target: bigint): void {
    let i = from;
    while (i < to) {
      let j = i + 1;
      while (j < to && positions[j] === positions[j - 1]! + 1) j++;
      this.add(BigInt(positions[i]!), target + BigInt(i - from));
      // positions i .. j - 1 and their targets both follow each other: one run
      this.cur!.sourceEnd = BigInt(positions[j - 1]!);
      i = j;
    }
  }
}

export interface KafkaJournalEntry extends JournalEntry {
  /** The partition's end offset before this restore first wrote to it, decimal. */
  initialEnd: string;
  /**
   * The batch producer's id (decimal) and epoch the partition is written as, and the number of
   * planned records before the one it gave sequence 0 (decimal): a rerun writes on as this
   * producer, so the broker recognises a batch the killed run had sent (see KafkaStreamWriter).
   */
  producerId?: string;
  producerEpoch?: number;
  sequenceStart?: string;
}

/** The producer identity a partition is written as (KafkaJournalEntry's producer fields). */
export interface WriterIdentity {
  producerId: bigint;
  producerEpoch: number;
  sequenceStart: bigint;
}

export class KafkaStreamWriter implements StreamWriter, ReleasesEarlierWrites {
  readonly resume: { records: number } | null;
  /** Records held back are sent by the next write: it settles once they are acknowledged. */
  readonly releasesEarlierWrites = true;
  private readonly topic: string;
  private readonly partition: number;
  private readonly runs: OffsetRunBuilder;
  /** Planned records already on the target that no write has passed over yet. */
  private toSkip: bigint;
  /** The target offset of the next record. */
  private next: bigint;
  /** Settles when the last batch sent is acknowledged (rejects when any failed). */
  private acknowledged: Promise<void> = Promise.resolve();
  /** One write at a time cuts and encodes; the next starts once this one's last batch is queued. */
  private gate: Promise<void> = Promise.resolve();
  /** Records cut but not sent yet (HOLD_TAIL): the start of the next request. */
  private held: { cut: Cut; count: number; bytes: number } = { cut: [], count: 0, bytes: 0 };
  /** The producer identity written as; null with kafkajs' producer. */
  private readonly identity: WriterIdentity | null;

  /**
   * `initialEnd`: the partition's end before this restore first wrote to it (from the journal, or
   * `currentEnd` for a new restore); `currentEnd`: its end now; `saved`: the producer identity
   * an interrupted run of this restore wrote the partition as (from the journal), if any.
   *
   * Resume: the first `currentEnd - initialEnd` planned records are on the target. On a
   * replicated cluster the end (the high watermark) may lag the leader's log, so a batch the
   * killed run sent may be stored yet not counted. The rerun therefore writes as the killed
   * run's producer id and epoch, giving planned record i the sequence i - sequenceStart, as that
   * run did, and cuts its batches from the counted end as that run cut them from there (the
   * cut depends only on the records): a batch the killed run had stored comes again with the
   * same producer id and sequences, and the broker acknowledges it at the offset where it
   * stored it (idempotent producer deduplication) instead of storing it twice.
   */
  constructor(
    private readonly producer: KafkaProducer,
    private readonly target: PlannedTarget,
    private readonly initialEnd: bigint,
    currentEnd: bigint,
    saved: WriterIdentity | null = null,
  ) {
    const t = asKafkaAddress(target.target);
    this.topic = t.topic;
    this.partition = t.partition;
    const already = currentEnd - initialEnd;
    if (already < 0n) throw new MqbakError('integrity', `target ${this.key} ends at ${currentEnd}, before ${initialEnd} where this restore started (records deleted?)`);
    this.toSkip = already;
    this.next = initialEnd;
    this.resume = already > 0n ? { records: Number(already) } : null;
    this.runs = new OffsetRunBuilder(target.name, target.source, target.target);
    const own = producer.identity?.() ?? null;
    if (own === null) this.identity = null;
    else if (saved && saved.sequenceStart <= already) {
      this.identity = saved;
      producer.adopt(this.topic, this.partition, saved.producerId, saved.producerEpoch, Number(already - saved.sequenceStart));
    } else {
      // a new restore, or a journal of a mqbak that kept no producer id: sequences start here
      this.identity = { ...own, sequenceStart: already };
    }
  }

  private get key(): string {
    return `${this.topic}/${this.partition}`;
  }

  journal(): KafkaJournalEntry {
    const id = this.identity;
    if (!id) return { initialEnd: this.initialEnd.toString() };
    return { initialEnd: this.initialEnd.toString(), producerId: id.producerId.toString(), producerEpoch: id.producerEpoch, sequenceStart: id.sequenceStart.toString() };
  }

  /**
   * The first `resume.records` records ever given are not sent (an interrupted run of the same
   * restore wrote them, acknowledged, in this order): they only go into the offset runs. With
   * HOLD_TAIL, `written` counts the requests this write sent, records of earlier writes included,
   * and an empty write sends what is held.
   */
  async write(batch: readonly RecordSlice[], signal: AbortSignal): Promise<WriteAck> {
    const before = this.gate;
    let release!: () => void;
    this.gate = new Promise<void>((r) => (release = r));
    let written = 0;
    let last: Promise<void> = Promise.resolve();
    try {
      await before;
      const slices = this.toSkip > 0n ? this.skip(batch) : batch;
      let { cut, count, bytes } = this.held;
      this.held = { cut: [], count: 0, bytes: 0 };
      // records an earlier write held back are in `cut` until its first request goes out
      let earlier = count > 0;
      for (const s of slices) {
        const cols = s.cols;
        for (let i = s.from; i < s.to; i++) {
          const size = recordSize(cols, i);
          if (count > 0 && (count >= BATCH_RECORDS || bytes + size > BATCH_BYTES)) {
            last = (await this.send(cut, signal)).acked;
            written += count;
            cut = [];
            count = 0;
            bytes = 0;
            earlier = false;
          }
          const prev = cut[cut.length - 1];
          if (prev !== undefined && prev.cols === cols && prev.to === i) prev.to++;
          else cut.push({ cols, from: i, to: i + 1 });
          count++;
          bytes += size;
        }
      }
      if (count > 0 && HOLD_TAIL && batch.length > 0 && !earlier) this.held = { cut, count, bytes };
      else if (count > 0) {
        last = (await this.send(cut, signal)).acked;
        written += count;
      }
    } finally {
      release();
    }
    await last;
    return { written, failed: [] };
  }

  /** Passes over records already on the target; returns the rest. */
  private skip(batch: readonly RecordSlice[]): RecordSlice[] {
    const rest: RecordSlice[] = [];
    for (const s of batch) {
      const n = s.to - s.from;
      const k = this.toSkip < BigInt(n) ? Number(this.toSkip) : n;
      if (k > 0) {
        this.runs.addPositions(s.cols.position, s.from, s.from + k, this.next);
        this.next += BigInt(k);
        this.toSkip -= BigInt(k);
      }
      if (k < n) rest.push(k === 0 ? s : { cols: s.cols, from: s.from + k, to: s.to });
    }
    return rest;
  }

  /**
   * Encodes a batch now and queues it behind the one before it; returns once that one is
   * acknowledged (so that at most one more is encoded meanwhile), with this batch's own
   * acknowledgement. Nothing goes out after a failure.
   */
  private async send(slices: RecordSlice[], signal?: AbortSignal): Promise<{ acked: Promise<void> }> {
    const prepared = this.producer.prepare(this.topic, this.partition, slices);
    const previous = this.acknowledged;
    const mine = previous.then(async () => {
      const base = await this.producer.transmit(prepared, signal);
      if (base !== this.next) {
        throw new MqbakError('partial', `${this.key}: the broker stored the batch at ${base}, expected ${this.next}: another producer writes to this partition`);
      }
      for (const x of slices) {
        this.runs.addPositions(x.cols.position, x.from, x.to, this.next);
        this.next += BigInt(x.to - x.from);
      }
    });
    mine.catch(() => {}); // thrown to whoever awaits it: this write, the next one, or close
    this.acknowledged = mine;
    await previous;
    return { acked: mine };
  }

  /** Waits for every write; the offset runs of this partition (already restored records included). */
  async close(): Promise<OffsetRun[]> {
    await this.gate;
    if (this.held.count > 0) {
      const { cut } = this.held;
      this.held = { cut: [], count: 0, bytes: 0 };
      await (await this.send(cut)).acked;
    }
    await this.acknowledged;
    if (this.toSkip > 0n) throw new MqbakError('integrity', `${this.key}: holds ${this.toSkip} more records than this backup plans (not a resume of the same restore?)`);
    return this.runs.runs;
  }
}
