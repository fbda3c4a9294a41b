/**
 * A mirror of a classic or quorum queue ('snapshot'): every message it held at the cut is
 * delivered, archived, and returned to the queue by closing the channel without acknowledging
 * (classic queues put them back in their place; RabbitMQ marks them redelivered). Nothing is
 * removed; the deliveries are held for the whole read, within the hold limit.
 */
import { MqbakError, throwIfAborted } from '../../common/errors.js';
import type { RecordSink } from '../adapter.js';
import { propertiesOf, rawPropertiesOf } from './connection.js';
import { deliveryCountOf } from './delivery.js';
import { DeliveryBatch } from './delivery-batch.js';
import type { QueueInfo } from './management.js';
import { holdLimit } from './queue-selection.js';
import type { QueueReport, ReadContext } from './read-context.js';
import { QueueConsumer, READ_HOLD } from './consumer.js';
import { nextDelivery, silent } from './idle-wait.js';

/** Reads `depth` messages of `q` (its depth at the cut) into `out` from position `from`; returns the end. */
export async function readMirror(
  ctx: ReadContext,
  q: QueueInfo,
  cut: { depth: number; consumers: number; deliveryLimit: number | null },
  from: bigint,
  out: RecordSink,
  report: QueueReport,
): Promise<bigint> {
  const { depth, consumers, deliveryLimit: limit } = cut;
  ctx.progress.phase(`mirroring ${q.type} queue ${q.name}: ${depth} messages`);
  if (consumers > 0) {
    out.warn(
      `queue ${q.name} has ${consumers} consumer(s): they compete for messages while mirroring, so some may be missed, and they may receive returned messages marked redelivered`,
    );
  }
  report.returnedToQueue = depth > 0;
  if (depth === 0) return from;
  let nearLimit = 0;
  // prefetch = depth: with less, the broker stops sending once that many are unacked and the read
  // would wait forever (docs/RABBITMQ.md); above 65535 several consumers share the channel
  // but what has arrived and is not archived yet is bounded: the broker waits while we hold more
  const consumer = await QueueConsumer.open(ctx.conn, q.name, {
    prefetch: depth,
    maxPrefetchPerConsumer: ctx.settings.maxPrefetchPerConsumer,
    holdAtMost: READ_HOLD,
    rawProperties: true,
    signal: ctx.signal,
  });
  const holdMs = holdLimit(q, ctx.settings.holdMs);
  const deadline = Date.now() + holdMs;
  let position = from;
  let records = 0;
  const batch = new DeliveryBatch();
  // the channel's close once every message of the cut has arrived (see below)
  let returning: Promise<void> | null = null;
  try {
    while (records < depth) {
      throwIfAborted(ctx.signal);
      if (Date.now() > deadline) {
        throw new MqbakError(
          'partial',
          `mirror of ${q.name} read ${records} of ${depth} messages within the hold limit of ${Math.round(holdMs / 1000)} s; every message went back to the queue and no backup was written`,
          { hint: 'RabbitMQ closes consumers holding deliveries longer than consumer_timeout; store to a faster target, or use --mode drain' },
        );
      }
      const msg = consumer.take() ?? (await nextDelivery(ctx, consumer, q.name, deadline, (s, ending) => silent(ctx, q.name, s, ending, (m) => out.warn(m))));
      if (!msg) {
        if (Date.now() > deadline) continue;
        out.warn(`queue ${q.name}: ${depth} messages at start, only ${records} delivered (others consumed, expired or dead-lettered meanwhile)`);
        break;
      }
      if (msg.fields.redelivered) report.redelivered++;
      if (limit !== null && deliveryCountOf(propertiesOf(msg, { invalidUtf8: [] })) + 1 >= limit) nearLimit++;
      batch.add(msg, rawPropertiesOf(msg), Number(position), ctx.notes);
      position++;
      records++;
      // All `depth` have arrived (no more can: the prefetch is `depth`), and what is not archived
      // yet is in this process's memory. The channel is closed now, so that the broker puts the
      // messages back while the last ones are archived and the backup is committed, instead of
      // after: that return is about a sixth of the broker's work for a mirror (measured on 3.10).
      // Nothing else changes: the queue gets every message back whether the close completes,
      // the connection drops or mqbak dies, and the backup is committed only once all are
      // archived, as before. The source's close waits for the broker's close-ok (ctx.returns).
      if (returning === null && consumer.delivered >= depth) returning = consumer.close();
      // handed on full (1,024 messages or 1 MiB), and at the end: handing on whenever no delivery
      // was waiting made about 12,000 hand-offs per 200,000 messages when the broker was the slower
      // side, each an await through the core for a few messages
      if (batch.full) await out.appendColumns(batch.take());
      if (records % 1000 === 0) ctx.progress.update({ stream: report.stream, records, total: depth });
    }
    if (batch.count > 0) await out.appendColumns(batch.take());
  } catch (e) {
    // the return: closing the channel without acknowledging puts every delivery back, in order
    await (returning ?? consumer.close());
    throw e;
  }
  ctx.returns.push(returning ?? consumer.close());
  report.records += records;
  ctx.progress.update({ stream: report.stream, records, total: depth });
  if (nearLimit > 0) out.warn(`queue ${q.name}: ${nearLimit} message(s) were returned at or next to the delivery limit ${limit}: RabbitMQ may dead-letter or drop them`);
  ctx.progress.info(`queue ${q.name}: ${records} messages copied and returned to the queue; RabbitMQ now marks them redelivered`);
  return position;
}
