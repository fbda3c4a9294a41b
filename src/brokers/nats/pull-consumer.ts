/**
 * An ephemeral pull consumer read over a plain subscription: the JetStream API's pull requests
 * ($JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer> with a batch, an expiry and idle heartbeats)
 * sent by mqbak, and every delivered message handed over as the core client received it. The
 * client's own consumers build a JetStream message object per message, parse its reply subject
 * into a new object several times and queue it for an async iterator; this costs a fraction of
 * that per message (docs/PERFORMANCE.md).
 *
 * The consumer acknowledges nothing (ack policy none): a limits or interest stream keeps every
 * message and no durable consumer's position moves. Messages come in stream order with consumer
 * sequences 1, 2, 3...: a consumer sequence that skips means a message was lost on the way, and
 * then, as when the server says the consumer is gone or sends nothing (not even a heartbeat) for
 * three heartbeat intervals, the consumer is replaced by a new one starting at the sequence the
 * caller needs next. A closed connection ends the read with an error.
 */
import { MqbakError } from '../../common/errors.js';
import { readAckReply, type AckInfo } from './ack-reply.js';
import { loadNatsModules, type NatsConnection } from './connection.js';
import { parseHeaderBlock } from './header-block.js';
import { coreFields, type CoreMsg } from './raw-message.js';
import { streamError } from './streams.js';

export interface PullHandlers {
  /** A delivered message and its delivery metadata (`info` is reused: read it at once). */
  message(m: CoreMsg, info: AckInfo): void;
  /** The read cannot go on. */
  fail(e: Error): void;
  /** The stream sequence to start a replacement consumer at. */
  resumeAt(): number;
  /** Whether the caller has room for another pull's messages. */
  room(): boolean;
}

export interface PullOptions {
  /** Messages per pull request; the next request goes when half of the last one has come. */
  pullSize: number;
  /** Idle heartbeat asked of the server. Default 5000 ms. */
  heartbeatMs?: number;
  /** Lifetime of a pull request. Default 30000 ms. */
  expiresMs?: number;
}

/** Replacements in a row, without a message delivered in between, before the read fails. */
const MAX_RESETS = 5;
const json = new TextEncoder();

export class RawPullConsumer {
  private readonly heartbeatMs: number;
  private readonly expiresMs: number;
  private readonly info: AckInfo = { streamSeq: 0, deliverySeq: 0, delivered: 0, timestampMs: 0, pending: 0 };
  private sub: { unsubscribe(): void } | undefined;
  private inbox = '';
  private consumer = '';
  private request = new Uint8Array(0);
  /** Messages asked for and neither delivered nor given up by the server. */
  private outstanding = 0;
  private lastDeliverySeq = 0;
  private lastActivity = Date.now();
  private resets = 0;
  private resetting = false;
  private stopped = false;
  private stopping: Promise<void> = Promise.resolve();
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly onClose: Promise<void>;

  constructor(
    private readonly conn: NatsConnection,
    private readonly stream: string,
    private readonly opts: PullOptions,
    private readonly h: PullHandlers,
  ) {
    this.heartbeatMs = opts.heartbeatMs ?? 5000;
    this.expiresMs = opts.expiresMs ?? 30_000;
    this.timer = setInterval(() => this.watch(), this.heartbeatMs / 2);
    // the subscription keeps the process alive while the read waits, not this timer
    this.timer.unref();
    this.onClose = conn.nc.closed().then((e) => {
      if (this.stopped) return;
      const why = e ? `: ${e.message}` : '';
      this.fail(new MqbakError('unreachable', `NATS ${conn.target.redacted}: stream ${stream}: the connection closed during the read${why}`, { retriable: true, cause: e }));
    });
  }

  /** Creates the consumer at stream sequence `from` and sends the first pull. */
  async start(from: number): Promise<void> {
    const [transport] = await loadNatsModules();
    const name = `mqbak_${transport.nuid.next()}`;
    try {
      await this.conn.jsm.consumers.add(this.stream, {
        name,
        ack_policy: 'none' as never,
        deliver_policy: 'by_start_sequence' as never,
        opt_start_seq: from,
        // the server drops it after 5 idle minutes should mqbak not delete it itself
        inactive_threshold: 5 * 60 * 1e9,
        num_replicas: 1,
        mem_storage: true,
      });
    } catch (e) {
      throw streamError(e, this.conn, this.stream);
    }
    if (this.stopped) {
      await this.deleteConsumer(name);
      return;
    }
    this.consumer = name;
    this.inbox = transport.createInbox();
    this.request = json.encode(JSON.stringify({ batch: this.opts.pullSize, expires: this.expiresMs * 1e6, idle_heartbeat: this.heartbeatMs * 1e6 }));
    this.outstanding = 0;
    this.lastDeliverySeq = 0;
    this.lastActivity = Date.now();
    this.sub = this.conn.nc.subscribe(this.inbox, { callback: (err, m) => (err ? this.fail(err) : this.receive(m)) });
    this.pull();
  }

  /** Sends pull requests while fewer than half a pull's messages are outstanding and the caller has room. */
  pull(): void {
    if (this.stopped || this.resetting || this.sub === undefined) return;
    while (this.outstanding <= this.opts.pullSize / 2 && this.h.room()) {
      this.outstanding += this.opts.pullSize;
      try {
        this.conn.nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${this.stream}.${this.consumer}`, this.request, { reply: this.inbox });
      } catch (e) {
        // the connection is closing or closed
        this.fail(new MqbakError('unreachable', `NATS ${this.conn.target.redacted}: stream ${this.stream}: ${(e as Error).message}`, { retriable: true, cause: e }));
        return;
      }
    }
  }

  /**
   * Unsubscribes and deletes the consumer; the promise settles when the server has answered the
   * delete (never rejects). The server would drop the consumer after 5 idle minutes anyway.
   */
  stop(): Promise<void> {
    if (this.stopped) return this.stopping;
    this.stopped = true;
    clearInterval(this.timer);
    this.sub?.unsubscribe();
    this.sub = undefined;
    if (this.consumer) this.stopping = this.deleteConsumer(this.consumer);
    return this.stopping;
  }

  private receive(raw: unknown): void {
    if (this.stopped) return;
    this.lastActivity = Date.now();
    let m: CoreMsg;
    try {
      m = coreFields(raw);
    } catch (e) {
      this.fail(e as Error);
      return;
    }
    if (readAckReply(m._msg.reply, this.info)) {
      if (this.info.deliverySeq !== this.lastDeliverySeq + 1) {
        void this.reset(`consumer sequence ${this.info.deliverySeq} after ${this.lastDeliverySeq}`);
        return;
      }
      this.lastDeliverySeq = this.info.deliverySeq;
      this.resets = 0;
      if (this.outstanding > 0) this.outstanding--;
      this.h.message(m, this.info);
      if (this.outstanding <= this.opts.pullSize / 2) this.pull();
      return;
    }
    this.status(m);
  }

  /** A message of the server about the pull requests (it has a status and no ack subject). */
  private status(m: CoreMsg): void {
    const hdr = m._msg.hdr;
    let status = '';
    let left = -1;
    if (hdr > 0 && m._rdata) {
      try {
        const block = parseHeaderBlock(m._rdata.subarray(0, hdr));
        status = block.status;
        const p = block.headers.find((x) => x.name.toLowerCase() === 'nats-pending-messages');
        if (p?.value) left = Number(Buffer.from(p.value).toString('latin1'));
      } catch {
        status = '';
      }
    }
    const code = Number(status.slice(0, 3));
    if (code === 100) return; // idle heartbeat
    if (Number.isSafeInteger(left) && left >= 0) this.outstanding = Math.max(0, this.outstanding - left);
    else if (code === 408 || code === 404) this.outstanding = 0;
    const what = status.slice(4).toLowerCase();
    if (code === 408 || code === 404) {
      // the request expired (nothing to deliver for a while, or a pull after the last message)
      this.pull();
    } else if (code === 409 && what === 'consumer deleted') {
      void this.reset('the server deleted the consumer');
    } else if (code === 409 && what === 'stream deleted') {
      this.fail(new MqbakError('not-found', `NATS ${this.conn.target.redacted}: stream ${this.stream} was deleted during the read`));
    } else if (code === 503) {
      void this.reset('no responders to the pull request');
    } else if (code === 400 || !status) {
      this.fail(new MqbakError('unreachable', `NATS ${this.conn.target.redacted}: stream ${this.stream}: the server refused a pull request: ${status || 'a message without a status'}`, { retriable: true }));
    }
    // another 409 (leadership change, a limit of the consumer) ended a request: the watch pulls
    // again once nothing is outstanding, or replaces the consumer when nothing more comes
  }

  /** Nothing, not even a heartbeat, for three heartbeat intervals: replaced. */
  private watch(): void {
    if (this.stopped || this.resetting || this.sub === undefined) return;
    if (this.outstanding === 0) {
      this.pull();
      return;
    }
    if (Date.now() - this.lastActivity >= 3 * this.heartbeatMs) void this.reset(`no heartbeat for ${Math.round((Date.now() - this.lastActivity) / 1000)} s`);
  }

  /** Replaces the consumer by one that starts where the caller needs it. */
  private async reset(why: string): Promise<void> {
    if (this.stopped || this.resetting) return;
    if (++this.resets > MAX_RESETS) {
      this.fail(new MqbakError('unreachable', `NATS ${this.conn.target.redacted}: stream ${this.stream}: the read does not progress (${why})`, { retriable: true }));
      return;
    }
    this.resetting = true;
    this.sub?.unsubscribe();
    this.sub = undefined;
    void this.deleteConsumer(this.consumer);
    this.consumer = '';
    try {
      await this.start(this.h.resumeAt());
    } catch (e) {
      this.fail(e as Error);
    } finally {
      this.resetting = false;
    }
    this.pull();
  }

  private deleteConsumer(name: string): Promise<void> {
    return this.conn.jsm.consumers.delete(this.stream, name).then(
      () => undefined,
      () => undefined,
    );
  }

  private fail(e: Error): void {
    if (this.stopped) return;
    this.stop();
    this.h.fail(e);
  }
}
