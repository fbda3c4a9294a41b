/**
 * Restoring one archived stream into one target stream: messages published in order, each
 * counted once the server acknowledged it, with a deduplication id (Nats-Msg-Id) made of the
 * restore id, the source stream and the source sequence (publisher.ts).
 *
 * Resuming: the journal entry holds the restore id, the runs of what was acknowledged, the last
 * source sequence handled (`through`: acknowledged or failed) and the failures. A rerun leaves
 * out what the journal says is done (the core passes only later records and the failures), and
 * finds what the interrupted run published after its last journal save by reading the target
 * from the first sequence it had not accounted for, looking for its own deduplication ids: those
 * messages are not published again, whatever the stream's duplicate window. Anything still racing
 * is caught by the server's deduplication.
 */
import { randomBytes } from 'node:crypto';
import type { JournalEntry, OffsetRun, PlannedTarget, StreamWriter, WriteAck } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import type { RecordHeader, RecordSlice } from '../../common/record.js';
import { asNatsAddress } from './address.js';
import type { NatsConnection } from './connection.js';
import { dedupId, StreamPublisher, type PublishMessage } from './publisher.js';
import { subjectOf } from './records.js';
import { SeqRuns } from './seq-runs.js';
import { readStream } from './stream-reader.js';
import { describeStream } from './streams.js';

export interface NatsJournalEntry extends JournalEntry {
  restoreId: string;
  /** The first target sequence this restore has not accounted for. */
  targetNext: number;
  /** Every planned record up to this source sequence was acknowledged or failed; null: none yet. */
  through: number | null;
  /** Source sequences the target refused, retried by a rerun. */
  failed: number[];
  /** [sourceStart, sourceEnd, targetStart] of what was acknowledged. */
  runs: Array<[number, number, number]>;
}

const MSG_ID = 'Nats-Msg-Id';
const names = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class NatsStreamWriter implements StreamWriter {
  readonly resume: StreamWriter['resume'];
  /** The writes so far, one after the other (the publisher takes one batch at a time). */
  private chain: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly target: PlannedTarget,
    private readonly publisher: StreamPublisher,
    private readonly renameSubject: (s: string) => string,
    private readonly restoreId: string,
    private targetNext: number,
    private through: number | null,
    private readonly failed: Set<number>,
    private readonly runs: SeqRuns,
    /** Published by the interrupted run after its last journal save: source -> target sequence. */
    private readonly landed: Map<number, number>,
  ) {
    this.resume = through === null ? null : { through: BigInt(through), retry: new Set([...failed].map((f) => BigInt(f))) };
  }

  static async open(conn: NatsConnection, target: PlannedTarget, saved: JournalEntry | null, renameSubject: (s: string) => string, signal: AbortSignal): Promise<NatsStreamWriter> {
    const stream = asNatsAddress(target.target).stream;
    const sourceStream = asNatsAddress(target.source).stream;
    let restoreId: string;
    let targetNext: number;
    let through: number | null = null;
    let failed = new Set<number>();
    let runs = new SeqRuns();
    let landed = new Map<number, number>();
    if (saved === null) {
      // a new restore: its id goes into the journal before the first write
      restoreId = randomBytes(6).toString('hex');
      targetNext = (await describeStream(conn, stream)).lastSeq + 1;
    } else {
      const e = entryOf(saved, target.name);
      restoreId = e.restoreId;
      targetNext = e.targetNext;
      through = e.through;
      failed = new Set(e.failed);
      runs = SeqRuns.fromJson(e.runs, target.name);
      // the ids of this restore and source stream: the prefix of dedupId(restoreId, sourceStream, seq)
      landed = await ownMessagesFrom(conn, stream, targetNext, dedupId(restoreId, sourceStream, 0).replace(/0$/, ''), signal);
    }
    const publisher = await StreamPublisher.open(conn, { stream, restoreId, sourceStream, signal });
    return new NatsStreamWriter(target, publisher, renameSubject, restoreId, targetNext, through, failed, runs, landed);
  }

  write(batch: readonly RecordSlice[], _signal: AbortSignal): Promise<WriteAck> {
    const p = this.chain.then(() => this.publishBatch(batch));
    this.chain = p.catch(() => {});
    return p;
  }

  private async publishBatch(batch: readonly RecordSlice[]): Promise<WriteAck> {
    const ack: WriteAck = { written: 0, failed: [] };
    const messages: PublishMessage[] = [];
    let last: number | null = null;
    for (const s of batch) {
      const c = s.cols;
      for (let i = s.from; i < s.to; i++) {
        const seq = c.position[i]!;
        last = seq;
        const there = this.landed.get(seq);
        if (there !== undefined) {
          // the interrupted run's message, acknowledged but not yet in its journal
          this.runs.add(seq, there);
          this.targetNext = Math.max(this.targetNext, there + 1);
          ack.written++;
          continue;
        }
        const headers: RecordHeader[] = [];
        for (let h = c.headerStart[i]!; h < c.headerStart[i + 1]!; h++) {
          const ns = c.headerNameStart[h]!;
          const vl = c.headerValueLength[h]!;
          const vs = c.headerValueStart[h]!;
          headers.push({ name: names.decode(c.bytes.subarray(ns, ns + c.headerNameLength[h]!)), value: vl < 0 ? null : c.bytes.subarray(vs, vs + vl) });
        }
        const vl = c.valueLength[i]!;
        const vs = c.valueStart[i]!;
        messages.push({ subject: this.renameSubject(subjectOf(c, i)), headers, data: vl < 0 ? EMPTY : c.bytes.subarray(vs, vs + vl), sourceSeq: seq });
      }
    }
    if (messages.length > 0) {
      for (const o of await this.publisher.publish(messages)) {
        if (o.ok) {
          this.runs.add(o.sourceSeq, o.targetSeq);
          this.failed.delete(o.sourceSeq);
          this.targetNext = Math.max(this.targetNext, o.targetSeq + 1);
          ack.written++;
        } else {
          this.failed.add(o.sourceSeq);
          ack.failed.push({ position: BigInt(o.sourceSeq), reason: o.reason });
        }
      }
    }
    if (last !== null && (this.through === null || last > this.through)) this.through = last;
    return ack;
  }

  journal(): NatsJournalEntry {
    return { restoreId: this.restoreId, targetNext: this.targetNext, through: this.through, failed: [...this.failed].sort((a, b) => a - b), runs: this.runs.toJson() };
  }

  async close(): Promise<OffsetRun[]> {
    try {
      await this.chain;
    } finally {
      this.publisher.close();
    }
    return this.runs.offsetRuns(this.target.name, this.target.source, this.target.target);
  }
}

function entryOf(saved: JournalEntry, name: string): NatsJournalEntry {
  const e = saved as Partial<NatsJournalEntry>;
  const seq = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (typeof e.restoreId !== 'string' || !/^[0-9a-f]+$/.test(e.restoreId) || !seq(e.targetNext) || !(e.through === null || seq(e.through)) || !Array.isArray(e.failed) || !e.failed.every(seq)) {
    throw new MqbakError('usage', `restore journal: entry of ${name} is not a JetStream restore's`, { hint: 'delete the journal to start the restore over' });
  }
  return e as NatsJournalEntry;
}

/**
 * Messages of this restore and source stream stored from target sequence `from` on, by their
 * deduplication id (the first header, `prefix` followed by the source sequence).
 */
async function ownMessagesFrom(conn: NatsConnection, stream: string, from: number, prefix: string, signal: AbortSignal): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  const last = (await describeStream(conn, stream)).lastSeq;
  if (last < from) return out;
  for await (const b of readStream(conn, stream, { from, to: last, signal })) {
    for (const r of b.records) {
      const h = r.headers[0];
      if (h?.name !== MSG_ID || h.value === null) continue;
      const id = names.decode(h.value);
      if (!id.startsWith(prefix)) continue;
      const seq = Number(id.slice(prefix.length));
      if (Number.isSafeInteger(seq)) out.set(seq, r.seq);
    }
  }
  return out;
}
