/**
 * Reading a queue: a consumer with manual acknowledgements whose deliveries are taken one at a
 * time (in channel order, which is queue order), and the queue's depth by passive declare.
 */
import type { Channel, ConsumeMessage, Replies } from 'amqplib';
import { MqbakError, messageOf } from '../../common/errors.js';
import type { RabbitConnection } from './connection.js';
import { takeDeliveriesDirectly } from './frame-reader.js';
import { readPauseOf, type ReadPause } from './read-pause.js';

/** AMQP 0-9-1 prefetch-count is an unsigned 16-bit field. */
export const MAX_PREFETCH = 65535;

/**
 * What a mirror or drain lets wait received and not yet archived: above it the connection stops
 * reading (holdAtMost), so what the broker may send at once (a mirror's whole queue, the next
 * checkpoint of a drain) waits in the broker instead of in mqbak's memory.
 */
export const READ_HOLD = { messages: 2048, bytes: 4 * 1024 * 1024 };

export interface ConsumerOptions {
  /** Deliveries in flight (unacked) allowed in total; 0 = unlimited. Split across consumers above MAX_PREFETCH. */
  prefetch: number;
  /** For tests: the per-consumer cap (default MAX_PREFETCH). */
  maxPrefetchPerConsumer?: number;
  /** basic.consume arguments (x-stream-offset...). */
  arguments?: Record<string, unknown>;
  /**
   * Deliveries (and their bytes) received and not yet taken above which the connection stops
   * reading until next() has taken three quarters of them (read-pause.ts); none by default. Only
   * for a consumer that is the connection's only reader while it is open: another consumer on the
   * same connection gets nothing while this one holds its deliveries.
   */
  holdAtMost?: { messages: number; bytes: number };
  /**
   * amqplib leaves the content headers undecoded: the deliveries' `properties` hold only the
   * captured bytes (keepPropertiesRaw), for readers that use nothing else (rawPropertiesOf,
   * propertiesOf), and the frame reader reads each delivery whole (takeDeliveriesDirectly).
   * Saves decoding every message's properties twice, and amqplib's objects per frame.
   */
  rawProperties?: boolean;
  signal?: AbortSignal;
}

/**
 * One channel, one or more consumers on one queue. When more than 65535 deliveries must be in
 * flight (a mirror of a deep queue), several consumers each with their own prefetch are opened on
 * the same channel: deliveries still arrive on that channel in dispatch (queue) order.
 */
export class QueueConsumer {
  private readonly buffered: ConsumeMessage[] = [];
  private waiter: (() => void) | null = null;
  private failure: MqbakError | null = null;
  private closed = false;
  private readonly tags: string[] = [];
  private bufferedBytes = 0;
  /** Cancelling, closing or failed: the connection must go on reading (for the broker's reply). */
  private stopping = false;
  private opening = true;
  /** The prefetch of each consumer still to open, in order; `opened` is the sum of those open. */
  private readonly slices: number[] = [];
  private opened = 0;
  private received = 0;
  /** The consumer being opened after the first, if any (cancel waits for it). */
  private more: Promise<void> | null = null;
  /** basic.consume's arguments, the same for every consumer opened. */
  private consumeArguments: Record<string, unknown> | undefined;

  private constructor(
    readonly channel: Channel,
    readonly queue: string,
    private readonly pause: ReadPause | null,
    private readonly hold: { messages: number; bytes: number },
  ) {}

  static async open(conn: RabbitConnection, queue: string, options: ConsumerOptions): Promise<QueueConsumer> {
    const channel = await conn.model.createChannel();
    const hold = options.holdAtMost;
    const c = new QueueConsumer(channel, queue, hold ? readPauseOf(conn.model) : null, hold ?? { messages: Infinity, bytes: Infinity });
    // deliveries read whole by the frame reader come here; any it leaves to amqplib come through consume's callback
    if (options.rawProperties) takeDeliveriesDirectly(channel, (msg) => c.push(msg));
    channel.on('error', (e: Error) => c.fail(e));
    channel.on('close', () => c.fail(new Error('channel closed')));
    channel.on('cancel', () => c.fail(new Error(`the broker cancelled the consumer (queue ${queue} deleted or failed over)`)));
    const cap = Math.min(options.maxPrefetchPerConsumer ?? MAX_PREFETCH, MAX_PREFETCH);
    if (options.prefetch <= 0) c.slices.push(0);
    else {
      let left = options.prefetch;
      while (left > 0) {
        const n = Math.min(left, cap);
        c.slices.push(n);
        left -= n;
      }
    }
    c.consumeArguments = options.arguments;
    try {
      await c.consumeNext();
      c.opening = false;
      c.openMore();
      c.holdOff();
    } catch (e) {
      await channel.close().catch(() => {});
      throw consumeError(queue, c.failure ?? e);
    }
    return c;
  }

  private push(msg: ConsumeMessage | null): void {
    if (msg === null) {
      this.fail(new Error(`the broker cancelled the consumer (queue ${this.queue} deleted?)`));
      return;
    }
    this.buffered.push(msg);
    this.received++;
    // open() awaits nothing after the first consume-ok, which came before any delivery
    this.opening = false;
    this.openMore();
    if (this.pause) {
      this.bufferedBytes += msg.content.length;
      this.holdOff();
    }
    this.wake();
  }

  /** Opens the next consumer (its basic.qos, then basic.consume); its deliveries follow the consume-ok. */
  private async consumeNext(): Promise<void> {
    const n = this.slices.shift()!;
    await this.channel.prefetch(n, false);
    // counted before the consume-ok: its first deliveries may be taken before this resumes
    this.opened += n;
    const ok: Replies.Consume = await this.channel.consume(this.queue, (msg) => this.push(msg), { noAck: false, arguments: this.consumeArguments });
    this.tags.push(ok.consumerTag);
  }

  /**
   * Above 65535 deliveries in flight, the next consumer is opened only once the ones open have
   * sent all they may: its basic.consume-ok then comes right after the last of their deliveries.
   * Opened while deliveries still flowed, its reply came behind all of them, and until it came
   * the connection could not be held off: a mirror of 200,000 messages received most of the first
   * consumer's 65535 before it started archiving. The reader keeps taking what was received while
   * this one opens, so holding the connection off meanwhile is safe.
   */
  private openMore(): void {
    if (this.received < this.opened || this.slices.length === 0 || this.more || this.stopping || this.opening) return;
    this.more = this.consumeNext().then(
      () => {
        this.more = null;
        // all its deliveries may have come before this ran
        this.openMore();
      },
      (e: unknown) => {
        this.more = null;
        this.fail(e instanceof Error ? e : new Error(String(e)));
      },
    );
  }

  /** Pauses reading when more than the hold limit waits; never while open() awaits the broker's replies. */
  private holdOff(): void {
    if (this.opening || this.stopping) return;
    if (this.buffered.length >= this.hold.messages || this.bufferedBytes >= this.hold.bytes) this.pause?.pause();
  }

  /** Lets the connection read again once most of what was held has been taken (or on failure or close). */
  private release(all: boolean): void {
    const p = this.pause;
    if (all) this.stopping = true;
    if (!p?.paused) return;
    if (all || (this.buffered.length * 4 <= this.hold.messages && this.bufferedBytes * 4 <= this.hold.bytes)) p.resume();
  }

  private fail(e: Error): void {
    if (this.closed && !this.failure) return;
    if (!this.failure) this.failure = consumeError(this.queue, e);
    this.release(true);
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Deliveries received and not yet taken. */
  get pending(): number {
    return this.buffered.length;
  }

  /**
   * The next delivery if one was received and not taken yet, without waiting: a reader takes
   * what is there this way and awaits next() only when nothing is, which saves two promises and
   * their microtasks per message while the broker sends faster than the reader archives.
   */
  take(): ConsumeMessage | undefined {
    const m = this.buffered.shift();
    if (m && this.pause) {
      this.bufferedBytes -= m.content.length;
      this.release(false);
    }
    return m;
  }

  /** Deliveries received so far, taken or not. */
  get delivered(): number {
    return this.received;
  }

  /**
   * The next delivery, or null when none came for `idleMs`. Throws when the channel failed
   * (consumer_timeout, queue deleted, connection lost) or the signal fired.
   */
  async next(idleMs: number, signal?: AbortSignal): Promise<ConsumeMessage | null> {
    for (;;) {
      const m = this.take();
      if (m) return m;
      if (this.failure) throw this.failure;
      if (signal?.aborted) throw new MqbakError('interrupted', 'interrupted');
      let timer: NodeJS.Timeout | undefined;
      let onAbort: (() => void) | undefined;
      const timedOut = await new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), idleMs);
        this.waiter = () => resolve(false);
        onAbort = () => resolve(false);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
      clearTimeout(timer);
      // one listener per wait would pile up on a long read
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      this.waiter = null;
      if (timedOut && this.buffered.length === 0 && !this.failure) return null;
    }
  }

  ack(deliveryTag: number, multiple: boolean): void {
    if (this.failure) throw this.failure;
    this.channel.ack({ fields: { deliveryTag } } as unknown as ConsumeMessage, multiple);
  }

  /** From now on the connection is never held off for this consumer (its reader is done with it). */
  holdNoMore(): void {
    this.release(true);
  }

  /** Cancels the consumers (no more deliveries) and keeps the channel, so acks can still go out. */
  async cancel(): Promise<void> {
    // cancel-ok must be read
    this.release(true);
    await this.more;
    for (const t of this.tags) await this.channel.cancel(t).catch(() => {});
  }

  /**
   * Closes the channel without acknowledging: every unacked delivery returns to the queue
   * (classic queues put them back in their original place; RabbitMQ sets redelivered on them).
   */
  async close(): Promise<void> {
    this.closed = true;
    // close-ok must be read
    this.release(true);
    await this.channel.close().catch(() => {});
  }

  get failed(): MqbakError | null {
    return this.failure;
  }
}

function consumeError(queue: string, e: unknown): MqbakError {
  if (e instanceof MqbakError) return e;
  const msg = messageOf(e);
  if (/PRECONDITION_FAILED.*(timeout|delivery acknowledgement)/i.test(msg) || /consumer_timeout|delivery acknowledgement on channel/i.test(msg)) {
    return new MqbakError('partial', `queue ${queue}: RabbitMQ closed the channel because deliveries were held too long (consumer_timeout): ${msg}`, {
      cause: e,
      hint: 'the unacknowledged messages went back to the queue; use a smaller batch or raise consumer_timeout',
    });
  }
  if (/NOT_FOUND/.test(msg)) return new MqbakError('not-found', `queue ${queue}: ${msg}`, { cause: e });
  if (/ACCESS_REFUSED/.test(msg)) return new MqbakError('unreachable', `queue ${queue}: ${msg}`, { cause: e, hint: 'the user needs read permission on the queue' });
  return new MqbakError('unreachable', `queue ${queue}: ${msg}`, { cause: e, retriable: true });
}

/** Passive declare: the ready-message count and consumer count, straight from the queue. */
export async function queueDepth(conn: RabbitConnection, queue: string): Promise<{ messages: number; consumers: number }> {
  const ch = await conn.model.createChannel();
  ch.on('error', () => {});
  try {
    const ok = await ch.checkQueue(queue);
    return { messages: ok.messageCount, consumers: ok.consumerCount };
  } catch (e) {
    throw consumeError(queue, e);
  } finally {
    await ch.close().catch(() => {});
  }
}
