/**
 * Restoring one archived stream into one target queue: each record republished in order with
 * publisher confirms and mandatory routing (publisher.ts, ConfirmPublisher). A record counts as
 * written only when confirmed and not returned; everything else is a counted failure with its
 * reason. Writes publish one after the other on one channel, which keeps the order; a write may
 * start while the confirms of the one before are still coming (the window bounds what is
 * unconfirmed).
 */
import { MqbakError, throwIfAborted } from '../../common/errors.js';
import type { JsonValue, RecordColumns, RecordSlice } from '../../common/record.js';
import type { JournalEntry, OffsetRun, PlannedTarget, StreamWriter, WriteAck } from '../adapter.js';
import { amqpMetaOfAttributes } from './amqp-json.js';
import type { AmqpMessageMeta } from './amqp-types.js';
import { republishedProperties, type HeaderRules } from './attributes-header.js';
import type { RabbitConnection } from './connection.js';
import { queueWarnings, republish, type QueueNotes, type RepublishCounts, type RepublishRules } from './republish.js';
import { settledEntryOf, SettledTracker } from './settled-tracker.js';
import { ConfirmPublisher, type PublishOutcome } from './publisher.js';
import type { StreamTargetOffsets } from './stream-target-offsets.js';

export interface QueueWriterSetup {
  conn: RabbitConnection;
  target: PlannedTarget;
  rules: RepublishRules;
  window: number;
  /** Stream-queue targets: where the messages land, for the offset runs. */
  offsets: StreamTargetOffsets | null;
  counts: RepublishCounts;
  /** Where the writer's warnings go when it closes. */
  warn: (m: string) => void;
  /** The restore's: reading a stream target back stops with it. */
  signal: AbortSignal;
  /** --debug: where the writer says how full its confirm window got. */
  debug?: (m: string) => void;
}

type Outcome = { position: bigint; ok: boolean; reason?: string };

export class QueueWriter implements StreamWriter {
  readonly resume: StreamWriter['resume'];
  private readonly tracker: SettledTracker;
  private readonly notes: QueueNotes = { problems: new Set(), clusterIdDropped: 0, droppedByStream: 0 };
  /** The publishing of the writes so far, one after the other. */
  private publishing: Promise<unknown> = Promise.resolve();
  private readonly outcomes = new Set<Promise<unknown>>();
  /** When the common case's content headers are written from the attributes (attributes-header.ts); null: never. */
  private readonly headerRules: HeaderRules | null;

  private constructor(
    private readonly setup: QueueWriterSetup,
    private readonly publisher: ConfirmPublisher,
    saved: JournalEntry | null,
  ) {
    const { rules } = setup;
    // a stream target refuses or drops some header types, --via-exchange routes by each message's
    // exchange, and without the connection's extras amqplib would always add a headers table:
    // those go the general way
    this.headerRules =
      publisher.writesFrames && rules.extrasSupported && !rules.streamTarget && !rules.viaExchange
        ? { user: Buffer.from(rules.user, 'utf8'), viaExchange: rules.viaExchange }
        : null;
    const entry = settledEntryOf(saved);
    this.tracker = new SettledTracker(entry);
    this.resume =
      entry === null || entry.settledThrough === null
        ? null
        : { through: BigInt(entry.settledThrough), retry: new Set(entry.failed.map((f) => BigInt(f))) };
  }

  static async open(setup: QueueWriterSetup, saved: JournalEntry | null): Promise<QueueWriter> {
    const publisher = await ConfirmPublisher.open(setup.conn, { window: setup.window });
    return new QueueWriter(setup, publisher, saved);
  }

  write(batch: readonly RecordSlice[], signal: AbortSignal): Promise<WriteAck> {
    const published = this.publishing.then(() => this.publishAll(batch, signal));
    this.publishing = published.catch(() => {});
    return published.then(async (outcomes) => {
      const ack: WriteAck = { written: 0, failed: [] };
      for (const o of await Promise.all(outcomes)) {
        if (o.ok) ack.written++;
        else ack.failed.push({ position: o.position, reason: o.reason ?? 'failed' });
      }
      return ack;
    });
  }

  private async publishAll(batch: readonly RecordSlice[], signal: AbortSignal): Promise<Array<Promise<Outcome> | Outcome>> {
    const { rules, counts, offsets } = this.setup;
    const out: Array<Promise<Outcome> | Outcome> = [];
    for (const slice of batch) {
      for (let i = slice.from; i < slice.to; i++) {
        throwIfAborted(signal);
        const cols = slice.cols;
        const position = BigInt(cols.position[i]!);
        const bytes = cols.bytes;
        const body = Buffer.from(bytes.buffer, bytes.byteOffset + cols.valueStart[i]!, Math.max(cols.valueLength[i]!, 0));
        // the common case: the content header written from the attributes' bytes (same bytes on the wire)
        const encoded = this.headerRules && cols.attributeLength[i]! >= 0 ? republishedProperties(bytes, cols.attributeStart[i]!, cols.attributeStart[i]! + cols.attributeLength[i]!, this.headerRules) : null;
        let outcome: Promise<PublishOutcome>;
        let settle: (ok: boolean) => void;
        if (encoded) {
          settle = this.tracker.sent(position);
          ({ outcome } = await this.publisher.publishEncoded('', rules.targetQueue, encoded, body, signal));
        } else {
          const how = republish(metaAt(cols, i, position), rules, counts, this.notes);
          settle = this.tracker.sent(position);
          if ('refused' in how) {
            settle(false);
            out.push({ position, ok: false, reason: how.refused });
            continue;
          }
          ({ outcome } = await this.publisher.publish(how.exchange, how.routingKey, body, how.options, signal));
        }
        const landed = offsets?.published(position, body) ?? null;
        const done = outcome.then((o: PublishOutcome): Outcome => {
          settle(o.ok);
          if (landed) landed.ok = o.ok;
          return { position, ok: o.ok, reason: o.reason };
        });
        this.outcomes.add(done);
        void done.then(() => this.outcomes.delete(done));
        out.push(done);
      }
    }
    return out;
  }

  journal(): JournalEntry {
    return { ...this.tracker.entry() };
  }

  async close(): Promise<OffsetRun[]> {
    const { conn, target, offsets, warn, signal } = this.setup;
    try {
      await this.publishing;
      await Promise.all(this.outcomes);
    } finally {
      await this.publisher.close().catch(() => {});
    }
    this.setup.debug?.(`queue ${this.setup.rules.targetQueue}: at most ${this.publisher.peakInFlight} message(s) unconfirmed at once (window ${this.setup.window})`);
    for (const w of queueWarnings(sourceQueue(target), this.setup.rules.targetQueue, this.notes)) warn(w);
    if (!offsets) return [];
    const { runs, warning } = await offsets.runs(
      conn,
      { stream: target.name, source: target.source, target: target.target, sourceQueue: sourceQueue(target) },
      signal,
    );
    if (warning) warn(warning);
    return runs;
  }
}

function sourceQueue(t: PlannedTarget): string {
  const q = t.source.queue;
  if (typeof q !== 'string') throw new MqbakError('integrity', `${t.name}: not a RabbitMQ queue address`);
  return q;
}

const utf8 = new TextDecoder();

/** The AMQP side of record i of the columns, parsed once (columnRecord would build a record around it first). */
function metaAt(cols: RecordColumns, i: number, position: bigint): AmqpMessageMeta {
  return amqpMetaOfAttributes(position, () => {
    const length = cols.attributeLength[i]!;
    const start = cols.attributeStart[i]!;
    return length < 0 ? null : (JSON.parse(utf8.decode(cols.bytes.subarray(start, start + length))) as JsonValue);
  });
}
