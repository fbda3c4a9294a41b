/**
 * Draining one work-queue stream ('drain'), one checkpoint per read: messages are delivered and
 * archived, and acknowledged (removed) only when the core has committed the backup holding them
 * (`settle`). The read ends at the sequence noted at the start (the cut); messages published
 * later wait for the next run.
 *
 * Positions are stream sequences, as in a log read, so an incremental drain continues at the
 * parent's `to`. A message below it was committed by an earlier run that was stopped before it
 * acknowledged: it is acknowledged with this checkpoint but not archived again (no duplicate in
 * the chain). Sequences above it that never come were removed by something else: gaps.
 */
import type { ReadOutcome, RecordSink, SourceStream } from '../adapter.js';
import type { ArchiveRecord } from '../../common/record.js';
import type { NatsConnection } from './connection.js';
import { archiveRecordOf } from './records.js';
import { WorkQueueReader } from './workqueue-reader.js';

export interface DrainReport {
  /** Messages an earlier run had committed without acknowledging: acknowledged now, not archived again. */
  alreadyArchived: number;
}

export class StreamDrain {
  private reader: WorkQueueReader | null = null;
  /** The highest sequence delivered so far. */
  private lastSeen = 0;
  readonly report: DrainReport = { alreadyArchived: 0 };

  constructor(
    private readonly conn: NatsConnection,
    private readonly stream: SourceStream,
    private readonly checkpoint: number,
  ) {}

  /** One checkpoint from position `from`, of `limit` records at most (default the checkpoint size). */
  async read(from: bigint, out: RecordSink, limit: number | undefined, signal: AbortSignal): Promise<ReadOutcome> {
    const name = this.stream.name;
    const stream = String(this.stream.address.stream);
    const cut = Number(this.stream.end ?? 0n) - 1;
    const size = Math.max(1, limit ?? this.checkpoint);
    const start = Number(from);
    const base = Math.max(this.lastSeen, start - 1);
    const through = Math.min(cut, base + size);
    const to = new Map<string, bigint>([[name, from]]);
    if (through <= base) return { to, more: false };
    this.reader ??= await WorkQueueReader.open(this.conn, stream, { batchSize: Math.min(1000, size), signal });
    const reader = this.reader;
    // a chain's first drain (from 0) starts at whatever the stream holds first: no gap before it
    let expected = start === 0 ? -1 : start;
    let appended = 0;
    let leftovers = 0;
    for await (const batch of reader.read({ through })) {
      const records: ArchiveRecord[] = [];
      for (const r of batch.records) {
        if (r.seq > this.lastSeen) this.lastSeen = r.seq;
        if (r.seq < start) {
          leftovers++;
          continue;
        }
        if (expected >= 0 && r.seq > expected) out.addGap(BigInt(expected), BigInt(r.seq), 'deleted');
        expected = r.seq + 1;
        records.push(archiveRecordOf(r));
      }
      if (records.length > 0) {
        await out.appendMany(records);
        appended += records.length;
        to.set(name, BigInt(expected));
      }
    }
    if (leftovers > 0) {
      this.report.alreadyArchived += leftovers;
      out.setExtra('alreadyArchived', leftovers);
      out.warn(`stream ${stream}: ${leftovers} message(s) an interrupted earlier drain had archived were acknowledged now, not archived again`);
    }
    if (appended === 0 && leftovers === 0) return { to, more: false };
    const settleThrough = this.lastSeen;
    return {
      to,
      more: appended >= size && this.lastSeen < cut,
      settle: async () => {
        await reader.settleThrough(settleThrough);
      },
    };
  }

  /** Deletes the drain's consumer: deliveries not settled go back to the stream. */
  async close(): Promise<void> {
    const r = this.reader;
    this.reader = null;
    if (r) await r.close();
  }
}
