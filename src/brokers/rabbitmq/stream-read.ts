/**
 * A stream queue read by offset ('log'): from the parent's end (or the start) up to the offset
 * the stream had reached at the cut. Nothing changes on the broker: a stream consumer's acks only
 * return credit. Offsets the stream no longer holds (retention) become gaps.
 */
import { MqbakError, throwIfAborted } from '../../common/errors.js';
import type { RecordSink } from '../adapter.js';
import { deliveryMeta, deliveryRecord, streamOffsetOf } from './delivery.js';
import type { QueueReport, ReadContext } from './read-context.js';
import { QueueConsumer } from './consumer.js';
import { offsetArgument } from './stream-probe.js';

/** Reads offsets [from, end) of stream queue `queue` into `out`; returns the end of what was read. */
export async function readStreamQueue(ctx: ReadContext, queue: string, from: bigint, end: bigint | null, out: RecordSink, report: QueueReport): Promise<bigint> {
  if (end === null || end <= from) {
    if (from > 0n && (end === null || end < from)) {
      out.warn(
        `stream ${queue} ends at offset ${end ?? 0}, before the previous backup's ${from}: was it deleted and recreated? nothing was read; use --full to back it up from its start`,
      );
    }
    return from;
  }
  ctx.progress.phase(`reading stream ${queue} offsets ${from}..${end - 1n}`);
  const total = Number(end - from);
  const consumer = await QueueConsumer.open(ctx.conn, queue, { prefetch: 1000, arguments: { 'x-stream-offset': offsetArgument(from) }, rawProperties: true, signal: ctx.signal });
  let last: bigint | null = null;
  let sinceAck = 0;
  let records = 0;
  try {
    for (;;) {
      throwIfAborted(ctx.signal);
      const msg = await consumer.next(ctx.settings.idleMs, ctx.signal);
      if (!msg) {
        out.warn(`stream ${queue}: no delivery for ${ctx.settings.idleMs / 1000} s before offset ${end - 1n}; stopped at ${last ?? 'nothing'}`);
        break;
      }
      // stream acks only return credit: nothing is removed
      if (++sinceAck >= 200) {
        consumer.ack(msg.fields.deliveryTag, true);
        sinceAck = 0;
      }
      const meta = deliveryMeta(msg, ctx.notes);
      const offset = streamOffsetOf(meta.properties);
      if (offset === null) throw new MqbakError('internal', `stream ${queue}: a delivery without x-stream-offset`);
      if (offset < from) continue; // a chunk starts before the offset asked for
      if (offset >= end) break;
      if (last === null && offset > from) out.addGap(from, offset, 'not in the stream any more (retention) when read');
      if (last !== null && offset > last + 1n) out.addGap(last + 1n, offset, 'offsets absent from the stream when read');
      // the position says exactly what x-stream-offset said: the header is delivery metadata
      meta.properties.headers = meta.properties.headers?.filter((h) => h.name !== 'x-stream-offset');
      await out.append(deliveryRecord(msg, meta, offset));
      last = offset;
      records++;
      if (records % 1000 === 0) ctx.progress.update({ stream: report.stream, records, total });
      if (offset >= end - 1n) break;
    }
  } finally {
    await consumer.close();
  }
  report.records += records;
  return last === null ? from : last + 1n;
}
