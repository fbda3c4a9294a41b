/**
 * Restoring one archived stream into one target stream: messages published in order, each
 * counted once the server acknowledged it, with their header blocks as they were and nothing
 * added (publisher.ts).
 *
 * Resuming: the journal entry holds the runs of what was acknowledged, the last source sequence
 * handled (`through`: acknowledged or failed), the failures and the first target sequence not
 * accounted for. A rerun leaves out what the journal says is done (the core passes only later
 * records and the failures), and finds what the interrupted run published after its last journal
 * save by reading the target from that first sequence on: one connection's messages are stored in
 * the order sent, so those messages are the next records in order (less any the server refused),
 * and each record that equals the next of them (subject, header lines, data) is counted as
 * restored there instead of being published again.
 *
 * A target stream that gains messages from elsewhere while mqbak writes it shows as target
 * sequences skipped between two acknowledgements: reported as a warning (another publisher, or,
 * on a rerun, the interrupted run's last messages stored after the rerun read the target).
 */
import type { JournalEntry, OffsetRun, PlannedTarget, StreamWriter, WriteAck } from '../adapter.js';
import { sleepUnlessAborted } from '../../common/abort.js';
import { MqbakError } from '../../common/errors.js';
import type { RecordHeader, RecordSlice } from '../../common/record.js';
import { asNatsAddress } from './address.js';
import type { NatsConnection } from './connection.js';
import { StreamPublisher, type PublishMessage } from './publisher.js';
import type { NatsRecord } from './raw-message.js';
import { subjectOf } from './records.js';
import { SeqRuns } from './seq-runs.js';
import { readStream } from './stream-reader.js';
import { describeStream } from './streams.js';

export interface NatsJournalEntry extends JournalEntry {
  /** The first target sequence this restore has not accounted for. */
  targetNext: number;
  /** Every planned record up to this source sequence was acknowledged or failed; null: none yet. */
  through: number | null;
  /** Source sequences the target refused, retried by a rerun. */
  failed: number[];
  /** [sourceStart, sourceEnd, targetStart] of what was acknowledged. */
  runs: Array<[number, number, number]>;
}

const names = new TextDecoder();
const EMPTY = new Uint8Array(0);

export class NatsStreamWriter implements StreamWriter {
  readonly resume: StreamWriter['resume'];
  /** The writes so far, one after the other (the publisher takes one batch at a time). */
  private chain: Promise<unknown> = Promise.resolve();
  /** The last target sequence known to be stored: what was there at open, then each acknowledgement. */
  private lastStored: number;
  /** Target sequences skipped between acknowledgements (stored by someone else). */
  private foreign = 0;
  private firstForeign = 0;

  private constructor(
    private readonly target: PlannedTarget,
    private readonly publisher: StreamPublisher,
    private readonly renameSubject: (s: string) => string,
    private targetNext: number,
    private through: number | null,
    private readonly failed: Set<number>,
    private readonly runs: SeqRuns,
    /** Stored after the interrupted run's last journal save, in order: the first not matched yet first. */
    private readonly landed: NatsRecord[],
    lastStored: number,
    /** Where warnings for the user go. */
    private readonly notes: string[],
  ) {
    this.resume = through === null ? null : { through: BigInt(through), retry: new Set([...failed].map((f) => BigInt(f))) };
    this.lastStored = lastStored;
  }

  static async open(conn: NatsConnection, target: PlannedTarget, saved: JournalEntry | null, renameSubject: (s: string) => string, notes: string[], signal: AbortSignal): Promise<NatsStreamWriter> {
    const stream = asNatsAddress(target.target).stream;
    let lastStored = (await describeStream(conn, stream)).lastSeq;
    if (saved !== null) lastStored = await settledLastSeq(conn, stream, lastStored, signal);
    let targetNext = lastStored + 1;
    let through: number | null = null;
    let failed = new Set<number>();
    let runs = new SeqRuns();
    const landed: NatsRecord[] = [];
    if (saved !== null) {
      const e = entryOf(saved, target.name);
      targetNext = e.targetNext;
      through = e.through;
      failed = new Set(e.failed);
      runs = SeqRuns.fromJson(e.runs, target.name);
      if (lastStored >= targetNext) {
        for await (const b of readStream(conn, stream, { from: targetNext, to: lastStored, signal })) landed.push(...b.records);
      }
    }
    const publisher = await StreamPublisher.open(conn, { stream, signal });
    return new NatsStreamWriter(target, publisher, renameSubject, targetNext, through, failed, runs, landed, lastStored, notes);
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
        const headers: RecordHeader[] = [];
        for (let h = c.headerStart[i]!; h < c.headerStart[i + 1]!; h++) {
          const ns = c.headerNameStart[h]!;
          const vl = c.headerValueLength[h]!;
          const vs = c.headerValueStart[h]!;
          headers.push({ name: names.decode(c.bytes.subarray(ns, ns + c.headerNameLength[h]!)), value: vl < 0 ? null : c.bytes.subarray(vs, vs + vl) });
        }
        const vl = c.valueLength[i]!;
        const vs = c.valueStart[i]!;
        const m: PublishMessage = { subject: this.renameSubject(subjectOf(c, i)), headers, data: vl < 0 ? EMPTY : c.bytes.subarray(vs, vs + vl), sourceSeq: seq };
        const there = this.landed[0];
        if (there !== undefined && sameMessage(there, m)) {
          // the interrupted run's message, acknowledged but not yet in its journal
          this.landed.shift();
          this.runs.add(seq, there.seq);
          this.failed.delete(seq);
          this.targetNext = Math.max(this.targetNext, there.seq + 1);
          ack.written++;
          continue;
        }
        messages.push(m);
      }
    }
    if (messages.length > 0) {
      for (const o of await this.publisher.publish(messages)) {
        if (o.ok) {
          this.runs.add(o.sourceSeq, o.targetSeq);
          this.failed.delete(o.sourceSeq);
          this.targetNext = Math.max(this.targetNext, o.targetSeq + 1);
          if (o.targetSeq > this.lastStored + 1) {
            if (this.foreign === 0) this.firstForeign = this.lastStored + 1;
            this.foreign += o.targetSeq - this.lastStored - 1;
          }
          this.lastStored = Math.max(this.lastStored, o.targetSeq);
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
    return { targetNext: this.targetNext, through: this.through, failed: [...this.failed].sort((a, b) => a - b), runs: this.runs.toJson() };
  }

  async close(): Promise<OffsetRun[]> {
    try {
      await this.chain;
    } finally {
      this.publisher.close();
    }
    if (this.foreign > 0) {
      const stream = asNatsAddress(this.target.target).stream;
      this.notes.push(
        `stream ${stream}: ${this.foreign} message(s) not published by this restore were stored between its own, the first at sequence ${this.firstForeign} (another publisher on its subjects, or an interrupted run of this restore still finishing when this one started: look for duplicates there)`,
      );
    }
    return this.runs.offsetRuns(this.target.name, this.target.source, this.target.target);
  }
}

function entryOf(saved: JournalEntry, name: string): NatsJournalEntry {
  const e = saved as Partial<NatsJournalEntry>;
  const seq = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0;
  if (!seq(e.targetNext) || !(e.through === null || seq(e.through)) || !Array.isArray(e.failed) || !e.failed.every(seq)) {
    throw new MqbakError('usage', `restore journal: entry of ${name} is not a JetStream restore's`, { hint: 'delete the journal to start the restore over' });
  }
  return e as NatsJournalEntry;
}

/** A stored message and a message to publish: the same subject, header lines and data. */
function sameMessage(stored: NatsRecord, m: PublishMessage): boolean {
  if (stored.subject !== m.subject || stored.headers.length !== m.headers.length || !sameBytes(stored.data, m.data)) return false;
  for (let i = 0; i < m.headers.length; i++) {
    const a = stored.headers[i]!;
    const b = m.headers[i]!;
    if (a.name !== b.name) return false;
    if (a.value === null || b.value === null ? a.value !== b.value : !sameBytes(a.value, b.value)) return false;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/**
 * The stream's last sequence once it has stopped moving (a rerun's read of the target): what a
 * killed run sent just before it died may still be on its way into the stream for a moment after.
 * Waits until two readings a quarter second apart agree, for at most about five seconds.
 */
async function settledLastSeq(conn: NatsConnection, stream: string, first: number, signal: AbortSignal): Promise<number> {
  let last = first;
  for (let i = 0; i < 20; i++) {
    await sleepUnlessAborted(250, signal);
    const now = (await describeStream(conn, stream)).lastSeq;
    if (now === last) return now;
    last = now;
  }
  return last;
}
