/**
 * A drain of a classic or quorum queue ('drain'), one checkpoint per read: up to a checkpoint of
 * messages is delivered and archived, and acknowledged (removed) with one multiple-ack only when
 * the core has committed the backup holding them (`settle`). Acknowledging before the manifest
 * is stored could lose messages to a crash: a segment no manifest references is invisible to
 * restore. Deliveries never settled go back to the queue when the consumer closes.
 */
import { throwIfAborted } from '../../common/errors.js';
import type { ReadOutcome, RecordSink } from '../adapter.js';
import { rawPropertiesOf } from './connection.js';
import { DeliveryBatch } from './delivery-batch.js';
import type { QueueInfo } from './management.js';
import { MAX_CHECKPOINT, type BackupSettings } from './options.js';
import { holdLimit } from './queue-selection.js';
import type { QueueReport, ReadContext } from './read-context.js';
import { MAX_PREFETCH, QueueConsumer, READ_HOLD } from './consumer.js';
import { nextDelivery, silent } from './idle-wait.js';

/**
 * Deliveries a drain lets the broker have in flight: two checkpoints (at most 65535, and no more
 * than the drain will take). With only one, the broker stopped at the end of each checkpoint
 * until its multiple-ack came, and then spent a while processing that ack before sending again:
 * about a second per checkpoint of 20,000 on a loaded machine, during which neither side worked.
 * With two, the next checkpoint is delivered while this one is committed and acknowledged. Only
 * the committed checkpoint is acknowledged, as before; the rest go back to the queue on close.
 */
export function drainPrefetch(checkpoint: number, target: number): number {
  return Math.max(1, Math.min(2 * checkpoint, MAX_PREFETCH, Math.max(checkpoint, target)));
}

export class QueueDrain {
  private consumer: QueueConsumer | null = null;
  /** Messages delivered by the checkpoints so far. */
  private drained = 0;
  private exhausted = false;
  /** The position the first checkpoint of this run started at: > 0 when an earlier drain of the chain committed some. */
  private firstFrom: bigint | null = null;
  /** Messages to drain in this run: the depth at the cut, or less with --max-messages. */
  readonly target: number;
  private readonly checkpoint: number;
  private readonly batch = new DeliveryBatch();

  constructor(
    settings: BackupSettings,
    private readonly q: QueueInfo,
    private readonly cut: { depth: number; consumers: number },
    private readonly report: QueueReport,
  ) {
    this.target = Math.min(cut.depth, settings.maxMessages ?? Number.POSITIVE_INFINITY);
    this.checkpoint = Math.max(1, Math.min(settings.checkpoint, MAX_CHECKPOINT, Math.max(1, this.target)));
  }

  /** Reads one checkpoint into `out` from position `from`; `limit` may lower the checkpoint size. */
  async read(ctx: ReadContext, from: bigint, out: RecordSink, limit: number | undefined): Promise<ReadOutcome> {
    const { q, report } = this;
    const to = new Map<string, bigint>();
    if (this.firstFrom === null) {
      this.firstFrom = from;
      ctx.progress.phase(`draining ${q.type} queue ${q.name}: ${this.target} of ${this.cut.depth} messages`);
      if (this.cut.consumers > 0) out.warn(`queue ${q.name} has ${this.cut.consumers} other consumer(s): they take some messages while draining`);
    }
    if (this.target === 0 || this.exhausted || this.drained >= this.target) {
      to.set(report.stream, from);
      return { to, more: false };
    }
    const size = Math.max(1, Math.min(this.checkpoint, limit ?? Number.POSITIVE_INFINITY));
    // what arrives while a checkpoint is committed waits bounded, as in a mirror
    this.consumer ??= await QueueConsumer.open(ctx.conn, q.name, { prefetch: drainPrefetch(this.checkpoint, this.target), holdAtMost: READ_HOLD, rawProperties: true, signal: ctx.signal });
    const consumer = this.consumer;
    const deadline = Date.now() + holdLimit(q, ctx.settings.holdMs);
    let position = from;
    let inBatch = 0;
    let redelivered = 0;
    let lastTag = -1;
    const batch = this.batch;
    while (inBatch < size && this.drained + inBatch < this.target && Date.now() < deadline) {
      throwIfAborted(ctx.signal);
      const msg = consumer.take() ?? (await nextDelivery(ctx, consumer, q.name, deadline, (s, ending) => silent(ctx, q.name, s, ending, (m) => out.warn(m))));
      if (!msg) {
        if (Date.now() >= deadline) break;
        this.exhausted = true;
        break;
      }
      if (msg.fields.redelivered) redelivered++;
      batch.add(msg, rawPropertiesOf(msg), Number(position), ctx.notes);
      lastTag = msg.fields.deliveryTag;
      position++;
      inBatch++;
      // handed on full (1,024 messages or 1 MiB), and at the end: handing on whenever no delivery
      // was waiting made about 12,000 hand-offs per 200,000 messages when the broker was the slower
      // side, each an await through the core for a few messages
      if (batch.full) await out.appendColumns(batch.take());
      if ((this.drained + inBatch) % 1000 === 0) ctx.progress.update({ stream: report.stream, records: this.drained + inBatch, total: this.target });
    }
    if (batch.count > 0) await out.appendColumns(batch.take());
    if (redelivered > 0) out.setExtra('redelivered', redelivered);
    // a message RabbitMQ redelivers may be one an earlier drain of this chain committed and then
    // crashed before acknowledging: the chain may hold it twice. (Without an earlier drain in the
    // chain there is nothing to duplicate: uncommitted segments are not backups.)
    const mayDuplicate = redelivered > 0 && this.firstFrom > 0n;
    if (mayDuplicate) {
      out.setExtra('mayDuplicatePrevious', true);
      out.warn(`queue ${q.name}: ${redelivered} message(s) came marked redelivered; any that an interrupted earlier drain had committed are in the chain twice`);
    }
    this.drained += inBatch;
    report.records += inBatch;
    report.redelivered += redelivered;
    if (mayDuplicate) report.mayDuplicatePrevious = true;
    ctx.progress.update({ stream: report.stream, records: this.drained, total: this.target });
    if (this.exhausted && this.drained < this.target) {
      out.warn(`queue ${q.name}: ${this.target} messages to drain at start, ${this.drained} delivered (others consumed, expired or dead-lettered meanwhile)`);
    }
    to.set(report.stream, position);
    const more = inBatch > 0 && !this.exhausted && this.drained < this.target;
    // the consumer stays open (for the ack) while other queues are read on this connection: it
    // must not hold the connection off with deliveries past the stopping point
    if (!more) consumer.holdNoMore();
    if (inBatch === 0) return { to, more };
    return {
      to,
      more,
      settle: async () => {
        // one multiple-ack for the whole checkpoint, after its backup was committed
        consumer.ack(lastTag, true);
        report.acked += inBatch;
      },
    };
  }

  /** Cancels the read; deliveries not settled (prefetched or uncommitted) go back to the queue. */
  async close(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    if (c) await c.close();
  }
}
