/**
 * When a silence ends a mirror or drain. RabbitMQ sends nothing for a while both when a queue has
 * no ready message left and when the broker is slow (starved of CPU, paging messages in from
 * disk, under flow control): a drain of 200,000 messages on a loaded two-core machine stopped after
 * 4,622 of them, taking a 5 s pause of the broker for an empty queue. Only the first ends a read.
 * So after each silence of `idleMs` the queue's ready count is asked (a passive declare); while
 * messages are ready the read goes on waiting, up to `stallMs` of silence in all, so that a queue
 * whose ready messages never come to this consumer (one with a single active consumer that is
 * not mqbak's) still ends.
 */
import type { ConsumeMessage } from 'amqplib';
import type { ReadContext } from './read-context.js';
import { queueDepth, type QueueConsumer } from './consumer.js';

/** How a read that got nothing for a while ended. */
export interface Silence {
  /** Ready messages the queue reported at the last look (0: nothing left for this read). */
  ready: number;
  /** Milliseconds without a delivery. */
  silentMs: number;
}

/**
 * The next delivery of `consumer`, or null when none came: the queue had no ready message left
 * after a silence of `idleMs`, the silence lasted `stallMs` with messages still ready, or
 * `deadline` (epoch ms) passed. `onSilence` hears of each silence past `idleMs` with messages
 * still ready, `ending` set on the one that ends the read.
 */
export async function nextDelivery(
  ctx: ReadContext,
  consumer: QueueConsumer,
  queue: string,
  deadline: number,
  onSilence?: (s: Silence, ending: boolean) => void,
): Promise<ConsumeMessage | null> {
  const { idleMs, stallMs } = ctx.settings;
  let silentMs = 0;
  for (;;) {
    const wait = Math.min(idleMs, Math.max(1, deadline - Date.now()));
    const started = Date.now();
    const msg = await consumer.next(wait, ctx.signal);
    if (msg) return msg;
    silentMs += Date.now() - started;
    if (Date.now() >= deadline) return null;
    // what came while the passive declare was in flight is taken first
    const { messages: ready } = await queueDepth(ctx.conn, queue);
    if (consumer.pending > 0) return consumer.next(1, ctx.signal);
    if (ready === 0) return null;
    const ending = silentMs >= stallMs;
    onSilence?.({ ready, silentMs }, ending);
    if (ending) return null;
  }
}

/** Tells the user that a read waits for a slow broker rather than ending, or that it gave up. */
export function silent(ctx: ReadContext, queue: string, s: Silence, ending: boolean, warn: (message: string) => void): void {
  if (ending) {
    warn(`queue ${queue}: no delivery for ${Math.round(s.silentMs / 1000)} s while ${s.ready} message(s) are ready (another consumer served first?); stopped waiting, they stay in the queue`);
    return;
  }
  ctx.progress.info(
    `queue ${queue}: no delivery for ${Math.round(s.silentMs / 1000)} s while ${s.ready} message(s) are ready; waiting for the broker (at most ${Math.round(ctx.settings.stallMs / 1000)} s in all)`,
  );
}
