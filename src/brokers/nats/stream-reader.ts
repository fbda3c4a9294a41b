/**
 * Reads sequences from..to of a stream, to included, without changing the stream: an ephemeral
 * ordered consumer (no acks, so a limits or interest stream keeps every message and no durable
 * consumer's position moves). The caller notes `to` (the last sequence) at the start: the read
 * ends exactly there while publishers keep appending after it.
 *
 * Sequences in the range that are not delivered were deleted (one by one, by purge or by the
 * stream's limits): they are reported as gaps, so that every sequence of the range is either a
 * record or a gap, in order.
 */
import type { Consumer, JsMsg } from '@nats-io/jetstream';
import { MqbakError, throwIfAborted } from '../../common/errors.js';
import type { NatsConnection } from './connection.js';
import { recordOf, type NatsRecord } from './raw-message.js';
import { describeStream, streamError } from './streams.js';

export interface SeqRange {
  from: number;
  to: number;
}

export interface ReadBatch {
  /** In sequence order. */
  records: NatsRecord[];
  /** Deleted sequences, in order, between and around the records of this batch. */
  gaps: SeqRange[];
  /** Every sequence up to this one is accounted for (in this or an earlier batch). */
  through: number;
}

export interface ReadOptions {
  /** First sequence to read (>= 1). */
  from: number;
  /** Last sequence to read, included; at most the stream's last sequence when the read starts. */
  to: number;
  /** Most messages per batch. Default 1000. */
  batchSize?: number;
  /** Aim for batches of about this many bytes of data (the size adapts). Default 8 MiB. */
  batchBytes?: number;
  /**
   * How long a fetch waits for messages before the stream's state is checked again: only
   * matters when messages of the range are deleted during the read. Default 2000 ms, at least 1000.
   */
  idleMs?: number;
  signal?: AbortSignal;
}

/**
 * Batches of records and gaps covering from..to. The next batch is fetched while the caller
 * works on the current one.
 */
export async function* readStream(conn: NatsConnection, stream: string, options: ReadOptions): AsyncGenerator<ReadBatch> {
  const { from, to, signal } = options;
  if (!Number.isSafeInteger(from) || from < 1 || !Number.isSafeInteger(to)) {
    throw new MqbakError('internal', `readStream ${stream}: bad range ${from}..${to}`);
  }
  if (to < from) return;
  throwIfAborted(signal);
  const start = await describeStream(conn, stream);
  if (to > start.lastSeq) {
    throw new MqbakError('internal', `readStream ${stream}: ${to} is past the last sequence ${start.lastSeq}`);
  }
  if (start.messages === 0 || start.firstSeq > to) {
    yield { records: [], gaps: [{ from, to }], through: to };
    return;
  }
  let consumer: Consumer;
  try {
    consumer = await conn.js.consumers.get(stream, { deliver_policy: 'by_start_sequence' as never, opt_start_seq: from });
  } catch (e) {
    throw streamError(e, conn, stream);
  }
  const maxBatch = Math.max(1, options.batchSize ?? 1000);
  const batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
  // the client refuses a pull that expires in less than a second
  const idleMs = Math.max(1000, options.idleMs ?? 2000);
  let batchSize = Math.min(maxBatch, 100); // grows once message sizes are known
  let expected = from; // the next sequence to account for
  let done = false;

  // One fetch: messages until `want` arrived, a message past `to`, or the end of the stream.
  const fetchBatch = async (want: number): Promise<ReadBatch> => {
    const records: NatsRecord[] = [];
    const gaps: SeqRange[] = [];
    const gapTo = (last: number): void => {
      if (last >= expected) gaps.push({ from: expected, to: last });
      expected = last + 1;
    };
    let iter: Awaited<ReturnType<Consumer['fetch']>>;
    try {
      iter = await consumer.fetch({ max_messages: want, expires: idleMs });
    } catch (e) {
      throw streamError(e, conn, stream);
    }
    const stopOnAbort = (): void => iter.stop();
    signal?.addEventListener('abort', stopOnAbort, { once: true });
    try {
      for await (const m of iter as AsyncIterable<JsMsg>) {
        const seq = m.seq;
        if (seq < expected) continue; // the ordered consumer restarted and replays: seen already
        if (seq > to) {
          gapTo(to);
          done = true;
          break;
        }
        gapTo(seq - 1);
        records.push(recordOf(m));
        expected = seq + 1;
        if (seq === to) {
          done = true;
          break;
        }
        // nothing left after this message in the stream now: what is missing up to `to` is gone
        if (m.info.pending === 0) {
          gapTo(to);
          done = true;
          break;
        }
      }
    } catch (e) {
      throwIfAborted(signal);
      throw streamError(e, conn, stream);
    } finally {
      signal?.removeEventListener('abort', stopOnAbort);
      if (done) iter.stop();
    }
    throwIfAborted(signal);
    if (records.length === 0 && !done) {
      // a whole fetch without a message: the rest of the range may have been deleted meanwhile
      const now = await describeStream(conn, stream);
      if (now.messages === 0 || now.lastSeq < expected || now.firstSeq > to) {
        gapTo(to);
        done = true;
      } else if (now.firstSeq > expected) {
        gapTo(now.firstSeq - 1);
      }
    }
    return { records, gaps, through: expected - 1 };
  };

  const adapt = (b: ReadBatch): void => {
    if (b.records.length === 0) return;
    let bytes = 0;
    for (const r of b.records) bytes += r.data.length + 64;
    batchSize = Math.max(1, Math.min(maxBatch, Math.floor(batchBytes / Math.max(1, bytes / b.records.length))));
  };

  let next: Promise<ReadBatch> | undefined;
  try {
    next = fetchBatch(Math.min(batchSize, to - expected + 1));
    while (next) {
      const batch: ReadBatch = await next;
      adapt(batch);
      next = done || expected > to ? undefined : fetchBatch(Math.min(batchSize, to - expected + 1));
      if (batch.records.length || batch.gaps.length) yield batch;
      if (next === undefined) break;
    }
  } finally {
    // a fetch started for a batch the caller did not take: its failure (the consumer is deleted
    // under it) is nobody's business
    next?.catch(() => undefined);
    // the ordered consumer is ephemeral (the server drops it after 5 idle minutes): delete it now
    await consumer.delete().catch(() => undefined);
  }
}
