/**
 * Reading a queue: a consumer with manual acknowledgements whose deliveries are taken one at a
 * time (in channel order, which is queue order), and the conversion of a delivery into an
 * ArchiveRecord with typed properties.
 */
import type { Channel, ConsumeMessage, Replies } from 'amqplib';
import { MqbakError } from '../../common/errors.js';
import type { ArchiveRecord } from '../../common/record.js';
import { amqpToAttributes } from './amqp-json.js';
import type { AmqpProperties } from './amqp-types.js';
import type { DecodeNotes } from './amqp-codec.js';
import { propertiesOf, type RabbitConnection } from './connection.js';

/** AMQP 0-9-1 prefetch-count is an unsigned 16-bit field. */
export const MAX_PREFETCH = 65535;

export interface ConsumerOptions {
  /** Deliveries in flight (unacked) allowed in total; 0 = unlimited. Split across consumers above MAX_PREFETCH. */
  prefetch: number;
  /** For tests: the per-consumer cap (default MAX_PREFETCH). */
  maxPrefetchPerConsumer?: number;
  /** basic.consume arguments (x-stream-offset...). */
  arguments?: Record<string, unknown>;
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

  private constructor(
    readonly channel: Channel,
    readonly queue: string,
  ) {}

  static async open(conn: RabbitConnection, queue: string, options: ConsumerOptions): Promise<QueueConsumer> {
    const channel = await conn.model.createChannel();
    const c = new QueueConsumer(channel, queue);
    channel.on('error', (e: Error) => c.fail(e));
    channel.on('close', () => c.fail(new Error('channel closed')));
    channel.on('cancel', () => c.fail(new Error(`the broker cancelled the consumer (queue ${queue} deleted or failed over)`)));
    const cap = Math.min(options.maxPrefetchPerConsumer ?? MAX_PREFETCH, MAX_PREFETCH);
    const slices: number[] = [];
    if (options.prefetch <= 0) slices.push(0);
    else {
      let left = options.prefetch;
      while (left > 0) {
        const n = Math.min(left, cap);
        slices.push(n);
        left -= n;
      }
    }
    try {
      for (const n of slices) {
        await channel.prefetch(n, false);
        const ok: Replies.Consume = await channel.consume(queue, (msg) => c.push(msg), {
          noAck: false,
          arguments: options.arguments,
        });
        c.tags.push(ok.consumerTag);
      }
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
    this.wake();
  }

  private fail(e: Error): void {
    if (this.closed && !this.failure) return;
    if (!this.failure) this.failure = consumeError(this.queue, e);
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
   * The next delivery, or null when none came for `idleMs`. Throws when the channel failed
   * (consumer_timeout, queue deleted, connection lost) or the signal fired.
   */
  async next(idleMs: number, signal?: AbortSignal): Promise<ConsumeMessage | null> {
    for (;;) {
      const m = this.buffered.shift();
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

  /** Cancels the consumers (no more deliveries) and keeps the channel, so acks can still go out. */
  async cancel(): Promise<void> {
    for (const t of this.tags) await this.channel.cancel(t).catch(() => {});
  }

  /**
   * Closes the channel without acknowledging: every unacked delivery returns to the queue
   * (classic queues put them back in their original place; RabbitMQ sets redelivered on them).
   */
  async close(): Promise<void> {
    this.closed = true;
    await this.channel.close().catch(() => {});
  }

  get failed(): MqbakError | null {
    return this.failure;
  }
}

function consumeError(queue: string, e: unknown): MqbakError {
  if (e instanceof MqbakError) return e;
  const msg = e instanceof Error ? e.message : String(e);
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

/** The stream offset RabbitMQ puts on every delivery from a stream queue (x-stream-offset, a long). */
export function streamOffsetOf(props: AmqpProperties): bigint | null {
  const h = props.headers?.find((f) => f.name === 'x-stream-offset');
  if (!h) return null;
  const v = h.value;
  if (v.type === 'int64') return BigInt(v.value);
  if (v.type === 'int8' || v.type === 'int16' || v.type === 'int32' || v.type === 'uint8' || v.type === 'uint16' || v.type === 'uint32') return BigInt(v.value);
  return null;
}

export interface DeliveryRecord {
  record: ArchiveRecord;
  deliveryTag: number;
  redelivered: boolean;
}

/**
 * A delivery as the archive keeps it. Stream queues: the broker's x-stream-offset header is
 * delivery metadata (the position already says it exactly), so it is left out of the headers.
 */
export function toArchiveRecord(
  msg: ConsumeMessage,
  position: bigint,
  notes: DecodeNotes,
  options: { dropStreamOffset?: boolean } = {},
): ArchiveRecord {
  const properties = propertiesOf(msg, notes);
  if (options.dropStreamOffset && properties.headers) {
    properties.headers = properties.headers.filter((f) => f.name !== 'x-stream-offset');
  }
  return {
    position,
    timestamp: properties.timestamp !== undefined ? properties.timestamp * 1000 : null,
    timestampType: null,
    key: null,
    // a copy: amqplib's content may be a view into a larger socket buffer
    value: new Uint8Array(msg.content),
    headers: [],
    attributes: amqpToAttributes({
      exchange: msg.fields.exchange,
      routingKey: msg.fields.routingKey,
      redelivered: msg.fields.redelivered,
      properties,
    }),
  };
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
    arguments: { 'x-stream-offset': from === 0n ? 'first' : { '!': 'long', value: from.toString() } },
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
