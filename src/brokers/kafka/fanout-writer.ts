/**
 * Writing one source partition of a repartitioned restore (restore --repartition): each record
 * goes to the target partition Kafka's default partitioner gives its key (partitioner.ts), a
 * record without a key to its source partition modulo the target's count. One lane per target
 * partition: records gathered into record batches, one request per lane in flight, every
 * acknowledged base offset checked, offset runs per lane (a run ends where the target partition
 * changes or the target offsets stop following each other).
 *
 * Source partitions of a topic are written one after the other (the sink's parallelism is 1), so
 * what a source partition wrote to a target partition lies between its start there (the journal
 * entry, taken before its first write) and the next source partition's start there, or the
 * partition's end for the last one. Within a lane, batches are acknowledged in order: a resumed
 * run leaves out, per lane, that many of the records the partitioner sends there, and writes the
 * rest. As stream-writer.ts does, a rerun writes each lane as the interrupted run's producer id and
 * epoch with the sequences that run gave, so that a batch the broker had stored but not yet
 * counted (a replicated cluster's high watermark lagging) is acknowledged where it lies, not
 * stored twice: lanes are cut into batches the same way from the same point.
 */
import type { JournalEntry, OffsetRun, PlannedTarget, StreamWriter, WriteAck } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import type { RecordColumns, RecordSlice } from '../../common/record.js';
import { asKafkaAddress, kafkaAddress } from './address.js';
import { targetPartition } from './partitioner.js';
import type { KafkaProducer } from './producer.js';
import { OffsetRunBuilder } from './stream-writer.js';

/** A record batch must stay under the broker's message.max.bytes (1 MiB + 12 by default). */
const LANE_RECORDS = 10_000;
const LANE_BYTES = 1_000_000;

/** Where a lane starts: the target partition's end and the producer sequence of this stream's first record there. */
export interface LaneStart {
  partition: number;
  initialEnd: bigint;
  /** The producer identity the lane is written as; null with kafkajs' producer. */
  identity: { producerId: bigint; producerEpoch: number; sequenceStart: number } | null;
  /** Records of this stream the target partition already holds (an interrupted run wrote them). */
  already: bigint;
}

/** The journal entry of a repartitioned stream: the target's partition count and each lane's start. */
export interface FanoutEntry extends JournalEntry {
  repartition: number;
  targets: Record<string, { initialEnd: string; producerId?: string; producerEpoch?: number; sequenceStart?: string }>;
}

/** A journal entry of a repartitioned stream as lane starts (already: 0), or an error naming the stream. */
export function lanesOf(name: string, saved: JournalEntry): LaneStart[] {
  const bad = () => new MqbakError('usage', `restore journal: entry of ${name} is not one of a repartitioned restore`, { hint: 'delete the journal to start the restore over' });
  const { repartition, targets } = saved as Partial<FanoutEntry>;
  if (!Number.isSafeInteger(repartition) || typeof targets !== 'object' || targets === null) throw bad();
  const out: LaneStart[] = [];
  for (let p = 0; p < repartition!; p++) {
    const t = targets[String(p)];
    const dec = (v: unknown) => typeof v === 'string' && /^\d+$/.test(v);
    if (!t || !dec(t.initialEnd)) throw bad();
    let identity: LaneStart['identity'] = null;
    if (t.producerId !== undefined) {
      if (!dec(t.producerId) || !Number.isInteger(t.producerEpoch) || !dec(t.sequenceStart)) throw bad();
      identity = { producerId: BigInt(t.producerId), producerEpoch: t.producerEpoch!, sequenceStart: Number(t.sequenceStart) };
    }
    out.push({ partition: p, initialEnd: BigInt(t.initialEnd), identity, already: 0n });
  }
  return out;
}

/** Bytes a record takes in a batch, rounded up for its framing (varints, attributes, deltas). */
function framedSize(c: RecordColumns, i: number): number {
  const h0 = c.headerStart[i]!;
  const h1 = c.headerStart[i + 1]!;
  let headerBytes = 0;
  for (let h = h0; h < h1; h++) headerBytes += c.headerNameLength[h]! + Math.max(0, c.headerValueLength[h]!);
  return 40 + 12 * (h1 - h0) + headerBytes + Math.max(0, c.keyLength[i]!) + Math.max(0, c.valueLength[i]!);
}

class Lane {
  /** Records gathered for the next request. */
  slices: RecordSlice[] = [];
  count = 0;
  bytes = 0;
  /** Settles when the last request sent is acknowledged (rejects when any failed). */
  acknowledged: Promise<void> = Promise.resolve();
  next: bigint;
  toSkip: bigint;
  constructor(
    readonly start: LaneStart,
    readonly runs: OffsetRunBuilder,
  ) {
    this.next = start.initialEnd;
    this.toSkip = start.already;
  }

  add(cols: RecordColumns, i: number, size: number): void {
    const last = this.slices[this.slices.length - 1];
    if (last !== undefined && last.cols === cols && last.to === i) this.slices[this.slices.length - 1] = { cols, from: last.from, to: i + 1 };
    else this.slices.push({ cols, from: i, to: i + 1 });
    this.count++;
    this.bytes += size;
  }

  take(): { slices: RecordSlice[]; count: number } {
    const out = { slices: this.slices, count: this.count };
    this.slices = [];
    this.count = 0;
    this.bytes = 0;
    return out;
  }
}

export class FanoutWriter implements StreamWriter {
  readonly resume: { records: number } | null;
  private readonly topic: string;
  private readonly sourcePartition: number;
  private readonly lanes: Lane[];
  private readonly entry: FanoutEntry;
  /** One write at a time routes and encodes. */
  private gate: Promise<void> = Promise.resolve();

  /**
   * `lanes`: one per target partition, in partition order. A lane with an identity from the journal
   * is written on as that producer (adopted); `onClosed` gets each target partition's end once
   * every record is acknowledged.
   */
  constructor(
    private readonly producer: KafkaProducer,
    target: PlannedTarget,
    lanes: readonly LaneStart[],
    private readonly onClosed: (ends: ReadonlyMap<number, bigint>) => void,
  ) {
    this.topic = asKafkaAddress(target.target).topic;
    this.sourcePartition = asKafkaAddress(target.source).partition;
    this.lanes = lanes.map((l) => new Lane(l, new OffsetRunBuilder(target.name, target.source, kafkaAddress(this.topic, l.partition))));
    const already = lanes.reduce((n, l) => n + l.already, 0n);
    this.resume = already > 0n ? { records: Number(already) } : null;
    const targets: FanoutEntry['targets'] = {};
    for (const l of lanes) {
      const id = l.identity;
      targets[String(l.partition)] = id
        ? { initialEnd: l.initialEnd.toString(), producerId: id.producerId.toString(), producerEpoch: id.producerEpoch, sequenceStart: String(id.sequenceStart) }
        : { initialEnd: l.initialEnd.toString() };
      if (id && producer.position(this.topic, l.partition) !== null) {
        producer.adopt(this.topic, l.partition, id.producerId, id.producerEpoch, Number((BigInt(id.sequenceStart) + l.already) % 2n ** 31n));
      }
    }
    this.entry = { repartition: lanes.length, targets };
  }

  journal(): FanoutEntry {
    return this.entry;
  }

  /**
   * Routes each record to its lane; a lane sends a request once it is full, and the empty write
   * that ends the stream sends what every lane holds. `written`: the records of the requests this
   * write sent, once acknowledged.
   */
  async write(batch: readonly RecordSlice[], signal: AbortSignal): Promise<WriteAck> {
    const before = this.gate;
    let release!: () => void;
    this.gate = new Promise<void>((r) => (release = r));
    const sent: Array<{ count: number; acked: Promise<void> }> = [];
    try {
      await before;
      const n = this.lanes.length;
      for (const s of batch) {
        const c = s.cols;
        for (let i = s.from; i < s.to; i++) {
          const lane = this.lanes[targetPartition(c.bytes, c.keyStart[i]!, c.keyLength[i]!, this.sourcePartition, n)]!;
          if (lane.toSkip > 0n) {
            // written by the interrupted run: only mapped
            lane.runs.add(BigInt(c.position[i]!), lane.next);
            lane.next++;
            lane.toSkip--;
            continue;
          }
          const size = framedSize(c, i);
          if (lane.count > 0 && (lane.count >= LANE_RECORDS || lane.bytes + size > LANE_BYTES)) sent.push(await this.send(lane, signal));
          lane.add(c, i, size);
        }
      }
      if (batch.length === 0) for (const lane of this.lanes) if (lane.count > 0) sent.push(await this.send(lane, signal));
    } finally {
      release();
    }
    let written = 0;
    for (const x of sent) {
      await x.acked;
      written += x.count;
    }
    return { written, failed: [] };
  }

  /** Encodes the lane's request now and queues it behind the lane's previous one; returns once that one is acknowledged. */
  private async send(lane: Lane, signal?: AbortSignal): Promise<{ count: number; acked: Promise<void> }> {
    const { slices, count } = lane.take();
    const partition = lane.start.partition;
    const prepared = this.producer.prepare(this.topic, partition, slices);
    const previous = lane.acknowledged;
    const mine = previous.then(async () => {
      const base = await this.producer.transmit(prepared, signal);
      if (base !== lane.next) {
        throw new MqbakError('partial', `${this.topic}/${partition}: the broker stored the batch at ${base}, expected ${lane.next}: another producer writes to this partition`);
      }
      for (const x of slices) {
        lane.runs.addPositions(x.cols.position, x.from, x.to, lane.next);
        lane.next += BigInt(x.to - x.from);
      }
    });
    mine.catch(() => {}); // thrown to whoever awaits it
    lane.acknowledged = mine;
    await previous;
    return { count, acked: mine };
  }

  /** Waits for every lane; the offset runs of this source partition in source order. */
  async close(): Promise<OffsetRun[]> {
    await this.gate;
    for (const lane of this.lanes) if (lane.count > 0) await (await this.send(lane)).acked;
    for (const lane of this.lanes) await lane.acknowledged;
    const ends = new Map<number, bigint>();
    for (const lane of this.lanes) {
      if (lane.toSkip > 0n) throw new MqbakError('integrity', `${this.topic}/${lane.start.partition}: holds ${lane.toSkip} more records than this backup plans (not a resume of the same restore?)`);
      ends.set(lane.start.partition, lane.next);
    }
    this.onClosed(ends);
    const runs = this.lanes.flatMap((l) => l.runs.runs);
    return runs.sort((a, b) => (a.sourceStart < b.sourceStart ? -1 : a.sourceStart > b.sourceStart ? 1 : 0));
  }
}
