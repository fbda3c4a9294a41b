/**
 * Where a stream queue ends, and reading one back by offset. There is no AMQP call for a stream's
 * end: both read deliveries and look at their x-stream-offset header.
 */
import { propertiesOf, type RabbitConnection } from './connection.js';
import { QueueConsumer } from './consumer.js';
import { streamOffsetOf } from './delivery.js';

/** The x-stream-offset argument that starts a stream consumer at `from`. */
export function offsetArgument(from: bigint): unknown {
  return from === 0n ? 'first' : { '!': 'long', value: from.toString() };
}

/**
 * The offset the next message of a stream queue will get, or null for an empty stream. There is
 * no AMQP call for it: read from 'last' (the first message of the last chunk) and take the
 * highest offset seen once deliveries pause.
 */
export async function streamNextOffset(conn: RabbitConnection, queue: string, signal?: AbortSignal): Promise<bigint | null> {
  const probe = await QueueConsumer.open(conn, queue, { prefetch: 1000, arguments: { 'x-stream-offset': 'last' } });
  let max: bigint | null = null;
  const stopAt = Date.now() + 5000;
  let n = 0;
  try {
    for (;;) {
      const msg = await probe.next(max === null ? 1000 : 300, signal);
      if (!msg) break;
      n++;
      const off = streamOffsetOf(propertiesOf(msg, { invalidUtf8: [] }));
      if (off !== null && (max === null || off > max)) max = off;
      if (n % 500 === 0) probe.ack(msg.fields.deliveryTag, true);
      if (Date.now() > stopAt) break;
    }
  } finally {
    await probe.close();
  }
  return max === null ? null : max + 1n;
}

/**
 * Reads a stream from `from` and calls `each` with every delivery's offset and body until `each`
 * returns false or nothing comes for `idleMs`.
 */
export async function scanStream(
  conn: RabbitConnection,
  queue: string,
  from: bigint,
  each: (offset: bigint, body: Buffer) => boolean,
  options: { idleMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const c = await QueueConsumer.open(conn, queue, {
    prefetch: 1000,
    arguments: { 'x-stream-offset': offsetArgument(from) },
  });
  let sinceAck = 0;
  try {
    for (;;) {
      const msg = await c.next(options.idleMs ?? 3000, options.signal);
      if (!msg) return;
      if (++sinceAck >= 200) {
        c.ack(msg.fields.deliveryTag, true);
        sinceAck = 0;
      }
      const off = streamOffsetOf(propertiesOf(msg, { invalidUtf8: [] }));
      if (off === null || off < from) continue;
      if (!each(off, msg.content)) return;
    }
  } finally {
    await c.close();
  }
}
