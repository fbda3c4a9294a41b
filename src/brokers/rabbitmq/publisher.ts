/**
 * Publishing with publisher confirms and mandatory routing. A message counts only when the
 * broker confirmed it (basic.ack) and did not return it (basic.return comes before that ack);
 * a nack, a return or a channel failure is a counted failure, never a silent drop.
 */
import type { ConfirmChannel, Options } from 'amqplib';
import { MqbakError, messageOf } from '../../common/errors.js';
import type { AmqpField, AmqpProperties } from './amqp-types.js';
import { toAmqplibTable } from './amqp-codec.js';
import { PUBLISH_EXTRAS, type PublishExtras, type RabbitConnection } from './connection.js';
import { DEFAULT_FRAME_MAX, FrameWriter, messageFrames, publishMethodFrame, setChannel, type AmqplibChannel } from './publish-frames.js';

export interface PublishOutcome {
  ok: boolean;
  /** Why it failed: 'returned: NO_ROUTE', 'nacked', 'channel closed: ...'. */
  reason?: string;
}

interface Pending {
  exchange: string;
  routingKey: string;
  content: Buffer;
  /** Set once the outcome is known (confirmed, returned, refused or failed with the channel). */
  settled: boolean;
  resolve: (o: PublishOutcome) => void;
  done: Promise<PublishOutcome>;
  returned?: string;
}

/**
 * Broker-owned headers: copied back as they are they would mislead consumers (a fresh message
 * that claims to have been dead-lettered, or a delivery count already near a quorum limit).
 */
export const BROKER_OWNED_HEADERS = /^x-(death|delivery-count|first-death-.+|last-death-.+|stream-offset)$/;

/**
 * Sender-selected distribution: RabbitMQ routes a message also to every routing key listed in its
 * `CC` and `BCC` headers (names case-sensitive, values arrays of strings; another type makes the
 * broker close the channel) and strips `BCC` before delivery. Republished as they are, they would
 * send copies to the queues they name, whatever target the restore was given.
 */
export const ROUTING_HEADERS = /^(CC|BCC)$/;

/** Where a renamed header's value is kept: x-death as x-mqbak-original-death, CC as x-mqbak-original-cc. */
export function originalHeaderName(name: string): string {
  return `x-mqbak-original-${name.startsWith('x-') ? name.slice(2) : name.toLowerCase()}`;
}

/** Renames the headers whose names match `which` (values, types and order kept); `renamed`: their old names. */
export function renameHeaders(headers: AmqpField[], which: RegExp): { headers: AmqpField[]; renamed: string[] } {
  const renamed: string[] = [];
  const out = headers.map((f) => {
    if (which.test(f.name)) {
      renamed.push(f.name);
      return { name: originalHeaderName(f.name), value: f.value };
    }
    return f;
  });
  return { headers: out, renamed };
}

export function renameBrokerHeaders(headers: AmqpField[]): { headers: AmqpField[]; renamed: string[] } {
  return renameHeaders(headers, BROKER_OWNED_HEADERS);
}

/** amqplib publish options from archived properties (headers keep their wire types). */
export function publishOptions(p: AmqpProperties, problems?: string[]): Options.Publish {
  const o: Options.Publish = { mandatory: true };
  if (p.contentType !== undefined) o.contentType = p.contentType;
  if (p.contentEncoding !== undefined) o.contentEncoding = p.contentEncoding;
  if (p.headers !== undefined) o.headers = toAmqplibTable(p.headers, problems);
  if (p.deliveryMode !== undefined) o.deliveryMode = p.deliveryMode;
  if (p.priority !== undefined) o.priority = p.priority;
  if (p.correlationId !== undefined) o.correlationId = p.correlationId;
  if (p.replyTo !== undefined) o.replyTo = p.replyTo;
  if (p.expiration !== undefined) o.expiration = p.expiration;
  if (p.messageId !== undefined) o.messageId = p.messageId;
  if (p.timestamp !== undefined) o.timestamp = p.timestamp;
  if (p.type !== undefined) o.type = p.type;
  if (p.userId !== undefined) o.userId = p.userId;
  if (p.appId !== undefined) o.appId = p.appId;
  // amqplib always sends a headers table and never cluster-id: the connection wrapper
  // (connection.ts, installPublishExtras) corrects both from these extras
  const extras: PublishExtras = {};
  if (p.headers === undefined) extras.noHeaders = true;
  if (p.clusterId !== undefined) extras.clusterId = p.clusterId;
  if (extras.noHeaders || extras.clusterId !== undefined) {
    const h = (o.headers ?? {}) as Record<string | symbol, unknown>;
    Object.defineProperty(h, PUBLISH_EXTRAS, { value: extras, enumerable: false });
    o.headers = h as Options.Publish['headers'];
  }
  return o;
}

/**
 * The unconfirmed messages, oldest first: an array read from `head`, so that settling a message
 * costs the same whatever the window (an array shift per confirm would move the whole window).
 * Settled messages before the oldest unconfirmed one are dropped as the head passes them.
 */
class PendingQueue {
  private items: Pending[] = [];
  private head = 0;
  /** Messages not settled yet. */
  unsettled = 0;

  push(p: Pending): void {
    this.items.push(p);
    this.unsettled++;
  }

  settled(): void {
    this.unsettled--;
    const items = this.items;
    while (this.head < items.length && items[this.head]!.settled) this.head++;
    if (this.head === items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= items.length) {
      this.items = items.slice(this.head);
      this.head = 0;
    }
  }

  /** The oldest unsettled message that `match` accepts. */
  find(match: (p: Pending) => boolean): Pending | undefined {
    for (let i = this.head; i < this.items.length; i++) {
      const p = this.items[i]!;
      if (!p.settled && match(p)) return p;
    }
    return undefined;
  }

  /** Empties the queue, returning the unsettled messages. */
  takeAll(): Pending[] {
    const out = this.items.slice(this.head).filter((p) => !p.settled);
    this.items = [];
    this.head = 0;
    this.unsettled = 0;
    return out;
  }
}

export class ConfirmPublisher {
  private channel: ConfirmChannel | null = null;
  private readonly pending = new PendingQueue();
  private failure: string | null = null;
  private drainWaiters: Array<() => void> = [];
  /** Publishes waiting for the window to have room. */
  private roomWaiters: Array<() => void> = [];
  /** settle() calls waiting for every message to be settled. */
  private idleWaiters: Array<() => void> = [];
  /** The most messages that were unconfirmed at once (for tests and measurements). */
  private peak = 0;
  /** Writing frames to amqplib's channels (null: its internals are not as expected). */
  private frameWriter: FrameWriter | null = null;
  /** The last basic.publish method frame built, for the next message to the same place. */
  private methodFrame: { exchange: string; routingKey: string; channel: number; bytes: Buffer } | null = null;

  private constructor(
    private readonly conn: RabbitConnection,
    private readonly window: number,
  ) {}

  static async open(conn: RabbitConnection, options: { window?: number } = {}): Promise<ConfirmPublisher> {
    const p = new ConfirmPublisher(conn, options.window ?? 1000);
    await p.openChannel();
    return p;
  }

  private async openChannel(): Promise<void> {
    const ch = await this.conn.model.createConfirmChannel();
    this.failure = null;
    // a failed channel's late events must not touch its replacement
    ch.on('error', (e: Error) => {
      if (this.channel === ch) this.failAll(`channel error: ${e.message}`);
    });
    ch.on('close', () => {
      if (this.channel === ch) this.failAll('channel closed');
    });
    ch.on('drain', () => {
      const w = this.drainWaiters;
      this.drainWaiters = [];
      for (const f of w) f();
    });
    // basic.return precedes the basic.ack of the same message: remember it on the oldest
    // unconfirmed message with the same exchange, routing key and body
    ch.on('return', (msg: { fields: { exchange: string; routingKey: string; replyText: string; replyCode: number }; content: Buffer }) => {
      const p = this.pending.find((x) => !x.returned && x.exchange === msg.fields.exchange && x.routingKey === msg.fields.routingKey && x.content.equals(msg.content));
      if (p) p.returned = `returned by the broker: ${msg.fields.replyCode} ${msg.fields.replyText}`;
    });
    this.channel = ch;
    this.frameWriter ??= FrameWriter.of(ch);
  }

  private failAll(reason: string): void {
    if (this.failure) return;
    this.failure = reason;
    this.channel = null;
    for (const p of this.pending.takeAll()) p.resolve({ ok: false, reason });
    this.wake();
    const w = this.drainWaiters;
    this.drainWaiters = [];
    for (const f of w) f();
  }

  private wake(): void {
    const n = this.pending.unsettled;
    if (this.roomWaiters.length > 0 && n < this.window) {
      const w = this.roomWaiters;
      this.roomWaiters = [];
      for (const f of w) f();
    }
    if (this.idleWaiters.length > 0 && n === 0) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
    }
  }

  /** Messages published and not settled yet. */
  get inFlight(): number {
    return this.pending.unsettled;
  }

  /** The most messages that were unconfirmed at once so far; never more than the window. */
  get peakInFlight(): number {
    return this.peak;
  }

  /**
   * Publishes one message; `outcome` resolves once it is confirmed, returned or refused. Waits while `window`
   * messages are unconfirmed or the socket buffer is full. After a channel failure (e.g. the
   * broker refused a property), a new channel is opened for the next message.
   */
  async publish(
    exchange: string,
    routingKey: string,
    content: Buffer,
    options: Options.Publish,
    signal?: AbortSignal,
  ): Promise<{ outcome: Promise<PublishOutcome> }> {
    const ch = await this.ready(signal);
    const { entry, confirmed } = this.track(exchange, routingKey, content);
    let writable: boolean;
    try {
      writable = ch.publish(exchange, routingKey, content, options, confirmed);
    } catch (e) {
      // amqplib refuses before sending (a property of the wrong type, headers over its 64 KiB buffer)
      entry.resolve({ ok: false, reason: `not sent: ${messageOf(e)}` });
      return { outcome: entry.done };
    }
    if (!writable) await new Promise<void>((r) => this.drainWaiters.push(r));
    // wrapped: an async function returning a bare promise would wait for the confirm
    return { outcome: entry.done };
  }

  /** Whether publishEncoded can be used on this connection (amqplib's internals are as expected). */
  get writesFrames(): boolean {
    return this.frameWriter !== null;
  }

  /**
   * publish() with `mandatory`, for a message whose content-header properties are already encoded
   * (`properties`: the flags and the fields, as on the wire; attributes-header.ts): its frames
   * (basic.publish, the content header, the body) are written to the channel as one buffer,
   * without amqplib's option handling and property encoding. `properties` is copied before this
   * waits for anything. Only when `writesFrames`.
   */
  async publishEncoded(exchange: string, routingKey: string, properties: Uint8Array, content: Buffer, signal?: AbortSignal): Promise<{ outcome: Promise<PublishOutcome> }> {
    const frames = this.frames(exchange, routingKey, properties, content);
    const ch = await this.ready(signal);
    const { entry, confirmed } = this.track(exchange, routingKey, content);
    const w = this.frameWriter;
    const slot = w && !Object.hasOwn(ch, 'sendMessage') ? w.slotOf(ch) : null;
    if (!slot) {
      // amqplib takes no more messages on a channel it is closing (its own publish would throw)
      entry.resolve({ ok: false, reason: 'not sent: channel closed' });
      return { outcome: entry.done };
    }
    if (slot.number !== frames.readUInt16BE(1)) setChannel(frames, slot.number);
    const writable = slot.write(frames);
    (ch as unknown as AmqplibChannel).pushConfirmCallback(confirmed);
    if (!writable) await new Promise<void>((r) => this.drainWaiters.push(r));
    return { outcome: entry.done };
  }

  /** The frames of one basic.publish with `mandatory`, on the current channel's number. */
  private frames(exchange: string, routingKey: string, properties: Uint8Array, content: Buffer): Buffer {
    const channel = this.channel ? (this.channel as unknown as AmqplibChannel).ch : 0;
    let method = this.methodFrame;
    if (!method || method.exchange !== exchange || method.routingKey !== routingKey || method.channel !== channel) {
      method = this.methodFrame = { exchange, routingKey, channel, bytes: publishMethodFrame(channel, exchange, routingKey) };
    }
    const frameMax = this.frameWriter?.frameMax() ?? 0;
    return messageFrames(method.bytes, channel, properties, content, frameMax > 0 ? frameMax : DEFAULT_FRAME_MAX);
  }

  /** Waits for room in the window, then returns the channel (opening a new one after a failure). */
  private async ready(signal: AbortSignal | undefined): Promise<ConfirmChannel> {
    while (this.pending.unsettled >= this.window) {
      if (signal?.aborted) throw new MqbakError('interrupted', 'interrupted');
      await new Promise<void>((r) => this.roomWaiters.push(r));
    }
    if (!this.channel) {
      try {
        await this.openChannel();
      } catch (e) {
        throw new MqbakError('unreachable', `open a publishing channel: ${messageOf(e)}`, { cause: e });
      }
    }
    return this.channel!;
  }

  /** A message about to be sent: its entry in the window and the confirm callback amqplib calls. */
  private track(exchange: string, routingKey: string, content: Buffer): { entry: Pending; confirmed: (err: unknown) => void } {
    let resolve!: (o: PublishOutcome) => void;
    const done = new Promise<PublishOutcome>((r) => (resolve = r));
    const entry: Pending = {
      exchange,
      routingKey,
      content,
      settled: false,
      resolve: (o) => {
        if (entry.settled) return;
        entry.settled = true;
        // failAll has taken the failed channel's messages out already
        if (this.pending.unsettled > 0) this.pending.settled();
        resolve(o);
        this.wake();
      },
      done,
    };
    this.pending.push(entry);
    if (this.pending.unsettled > this.peak) this.peak = this.pending.unsettled;
    const confirmed = (err: unknown) => {
      if (err) entry.resolve({ ok: false, reason: 'nacked by the broker' });
      else if (entry.returned) entry.resolve({ ok: false, reason: entry.returned });
      else entry.resolve({ ok: true });
    };
    return { entry, confirmed };
  }

  /** Resolves when every published message has its outcome. */
  async settle(): Promise<void> {
    while (this.pending.unsettled > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  async close(): Promise<void> {
    await this.settle();
    const ch = this.channel;
    this.channel = null;
    this.failure = 'closed';
    if (ch) await ch.close().catch(() => {});
  }
}
