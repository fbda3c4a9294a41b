/**
 * Drains a work-queue stream: reading is destructive there (an acknowledged message is removed),
 * so the messages read are acknowledged only when the caller says its backup holding them is
 * committed (settleThrough). Until then the server keeps them, delivered but unacknowledged, and
 * a run killed in between leaves them in the stream for the next run.
 *
 * A work-queue stream allows one consumer per subject: mqbak uses a durable pull consumer of a
 * fixed name, and deletes a leftover of that name at the start (its deliveries go back to the
 * stream). Its ack wait is long, so held messages are not delivered again while a backup commits.
 */
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { MqbakError, throwIfAborted } from '../../common/errors.js';
import type { NatsConnection } from './connection.js';
import { recordOf, type NatsRecord } from './raw-message.js';
import { describeStream, streamError } from './streams.js';

export interface WorkQueueOptions {
  /** Durable consumer name. Default mqbak-drain. */
  consumerName?: string;
  /** How long the server waits for an acknowledgement before delivering again. Default 1 hour. */
  ackWaitMs?: number;
  /** Most messages per batch. Default 1000. */
  batchSize?: number;
  /** How long a fetch waits for messages. Default 2000 ms, at least 1000. */
  idleMs?: number;
  signal?: AbortSignal;
}

export interface WorkQueueBatch {
  records: NatsRecord[];
}

const NS_PER_MS = 1_000_000;

export class WorkQueueReader {
  /** Delivered, not yet acknowledged, by stream sequence. */
  private readonly held = new Map<number, JsMsg>();
  /** Highest sequence returned, or the one before the first in the stream when the drain began. */
  private highest = 0;

  private constructor(
    private readonly conn: NatsConnection,
    readonly stream: string,
    readonly consumerName: string,
    private readonly consumer: Consumer,
    private readonly options: WorkQueueOptions,
  ) {}

  static async open(conn: NatsConnection, stream: string, options: WorkQueueOptions = {}): Promise<WorkQueueReader> {
    const summary = await describeStream(conn, stream);
    if (summary.retention !== 'workqueue') {
      throw new MqbakError('usage', `stream ${stream} has ${summary.retention} retention, not workqueue: it is read without acknowledging`);
    }
    const name = options.consumerName ?? 'mqbak-drain';
    try {
      await conn.jsm.consumers.delete(stream, name);
    } catch {
      // none left over: the usual case
    }
    try {
      await conn.jsm.consumers.add(stream, {
        durable_name: name,
        ack_policy: 'explicit' as never,
        deliver_policy: 'all' as never,
        ack_wait: (options.ackWaitMs ?? 3_600_000) * NS_PER_MS,
        max_ack_pending: -1,
        max_deliver: -1,
      });
      const consumer = await conn.js.consumers.get(stream, name);
      return new WorkQueueReader(conn, stream, name, consumer, options);
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      if (/filtered consumer not unique|multiple non-filtered|overlap/i.test(msg)) {
        throw new MqbakError('usage', `stream ${stream}: another consumer already reads this work queue (${msg})`, {
          hint: 'a work-queue stream delivers each message to one consumer only: stop the other consumers while draining',
          cause: e,
        });
      }
      throw streamError(e, conn, stream);
    }
  }

  /** Messages held for settleThrough. */
  get heldCount(): number {
    return this.held.size;
  }

  /**
   * Batches of messages in sequence order, until the stream has nothing left to deliver or, when
   * `through` is given, a message past it was seen (that one is left to the next run: it is
   * neither returned nor acknowledged).
   */
  async *read(options: { through?: number } = {}): AsyncGenerator<WorkQueueBatch> {
    const { signal } = this.options;
    const batchSize = Math.max(1, this.options.batchSize ?? 1000);
    const through = options.through ?? Number.MAX_SAFE_INTEGER;
    for (let done = false; !done; ) {
      throwIfAborted(signal);
      const records: NatsRecord[] = [];
      let iter: Awaited<ReturnType<Consumer['fetch']>>;
      try {
        // never ask for more than can be kept: a message delivered and then not returned would
        // stay with this consumer, unacknowledged, for the whole ack wait
        if (this.highest === 0) this.highest = (await describeStream(this.conn, this.stream)).firstSeq - 1;
        const want = Math.max(1, Math.min(batchSize, through - this.highest));
        iter = await this.consumer.fetch({ max_messages: want, expires: Math.max(1000, this.options.idleMs ?? 2000) });
      } catch (e) {
        throw streamError(e, this.conn, this.stream);
      }
      const stop = (): void => iter.stop();
      signal?.addEventListener('abort', stop, { once: true });
      try {
        for await (const m of iter as AsyncIterable<JsMsg>) {
          if (m.seq > through) {
            // past the end (sequences before it were gone): give it back at once rather than
            // after the ack wait, and the others of this fetch too
            m.nak();
            done = true;
            continue;
          }
          if (m.seq <= this.highest) {
            // delivered again (ack wait passed): keep the newest delivery to acknowledge
            if (this.held.has(m.seq)) this.held.set(m.seq, m);
            continue;
          }
          this.highest = m.seq;
          this.held.set(m.seq, m);
          records.push(recordOf(m));
          if (m.info.pending === 0) {
            done = true;
            break;
          }
          // the end, but messages after it may be on their way in this fetch: they are given back
          if (m.seq === through) done = true;
        }
      } catch (e) {
        throwIfAborted(signal);
        throw streamError(e, this.conn, this.stream);
      } finally {
        signal?.removeEventListener('abort', stop);
        if (done) iter.stop();
      }
      throwIfAborted(signal);
      if (records.length === 0 && !done) {
        // a fetch without a message: is anything left to deliver?
        const info = await this.consumer.info().catch((e: unknown) => {
          throw streamError(e, this.conn, this.stream);
        });
        if (info.num_pending === 0) done = true;
      }
      if (records.length) yield { records };
    }
  }

  /**
   * Acknowledges every held message up to sequence n, and returns once the server has confirmed
   * the last of them (they are then removed from the stream). Call it only after the backup
   * holding them is committed.
   */
  async settleThrough(n: number): Promise<number> {
    const due = [...this.held.keys()].filter((s) => s <= n).sort((a, b) => a - b);
    if (due.length === 0) return 0;
    const last = due.pop()!;
    try {
      // acks of one connection reach the server in order: confirming the last confirms them all
      for (const s of due) this.held.get(s)!.ack();
      const confirmed = await this.held.get(last)!.ackAck();
      if (!confirmed) throw new Error(`the server did not confirm the acknowledgement of ${last}`);
    } catch (e) {
      throw new MqbakError('unreachable', `NATS ${this.conn.target.redacted}: stream ${this.stream}: acknowledging through ${n}: ${(e as Error).message}`, {
        retriable: true,
        cause: e,
      });
    }
    for (const s of due) this.held.delete(s);
    this.held.delete(last);
    return due.length + 1;
  }

  /**
   * Deletes the durable consumer: messages still held go back to the stream, unacknowledged, for
   * the next run.
   */
  async close(): Promise<void> {
    this.held.clear();
    await this.conn.jsm.consumers.delete(this.stream, this.consumerName).catch(() => undefined);
  }
}
