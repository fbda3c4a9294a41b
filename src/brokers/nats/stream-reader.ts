/**
 * Reads sequences from..to of a stream, to included, without changing the stream: an ephemeral
 * pull consumer that acknowledges nothing (pull-consumer.ts), so a limits or interest stream
 * keeps every message and no durable consumer's position moves. The caller notes `to` (the last sequence) at the start: the read
 * ends exactly there while publishers keep appending after it.
 *
 * Sequences in the range that are not delivered were deleted (one by one, by purge or by the
 * stream's limits): they are reported as gaps, so that every sequence of the range is either a
 * record or a gap, in order.
 */
import { MqbakError, throwIfAborted } from '../../common/errors.js';
import type { RecordColumns } from '../../common/record.js';
import { ColumnBatch } from './column-batch.js';
import type { NatsConnection } from './connection.js';
import { RawPullConsumer } from './pull-consumer.js';
import { recordOfCore, type CoreMsg, type NatsRecord } from './raw-message.js';
import { describeStream, firstStoredFrom, streamError } from './streams.js';

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

/**
 * A ReadBatch whose records are columns (column-batch.ts): what a backup archives. Valid until
 * the next batch is asked for (their buffer is reused then).
 */
export interface ColumnReadBatch {
  columns: RecordColumns;
  gaps: SeqRange[];
  through: number;
}

/** Collects the messages of one batch. */
interface Collector<T> {
  readonly count: number;
  /** Adds a message; returns the bytes it counts for. */
  add(m: CoreMsg, seq: number, timestamp: number): number;
  /** What was added since the last take. */
  take(): T;
}

class RecordList implements Collector<NatsRecord[]> {
  private records: NatsRecord[] = [];
  constructor(private readonly stream: string) {}
  get count(): number {
    return this.records.length;
  }
  add(m: CoreMsg, seq: number, timestamp: number): number {
    const r = recordOfCore(m, this.stream, seq, timestamp);
    this.records.push(r);
    return r.data.length + 64;
  }
  take(): NatsRecord[] {
    const r = this.records;
    this.records = [];
    return r;
  }
}

interface Collected<T> {
  items: T;
  count: number;
  bytes: number;
  gaps: SeqRange[];
  through: number;
}

export interface ReadOptions {
  /** First sequence to read (>= 1). */
  from: number;
  /** Last sequence to read, included; at most the stream's last sequence when the read starts. */
  to: number;
  /** Most messages per batch. Default 200. */
  batchSize?: number;
  /** Messages asked of the server per pull request. Default 1000, fewer for large messages (16 MiB a pull on average). */
  pullSize?: number;
  /** A batch ends after this many bytes of data. Default 8 MiB. */
  batchBytes?: number;
  /**
   * How long without a message before the stream's state is checked: only matters when messages
   * of the range are deleted during the read. Default 2000 ms, at least 1000.
   */
  idleMs?: number;
  /**
   * Idle heartbeat asked of the server while a pull request waits; nothing for three of them and
   * the consumer is replaced. Default 5000 ms.
   */
  heartbeatMs?: number;
  signal?: AbortSignal;
}

/**
 * Batches of records and gaps covering from..to. The next messages arrive while the caller
 * works on the current batch.
 */
export async function* readStream(conn: NatsConnection, stream: string, options: ReadOptions): AsyncGenerator<ReadBatch> {
  for await (const b of read(conn, stream, options, new RecordList(stream))) yield { records: b.items, gaps: b.gaps, through: b.through };
}

/** readStream with each batch's records as columns, valid until the next batch is asked for. */
export async function* readStreamColumns(conn: NatsConnection, stream: string, options: ReadOptions): AsyncGenerator<ColumnReadBatch> {
  const batch = new ColumnBatch(stream);
  for await (const b of read(conn, stream, options, batch)) {
    yield { columns: b.items, gaps: b.gaps, through: b.through };
    batch.release();
  }
}

async function* read<T>(conn: NatsConnection, stream: string, options: ReadOptions, collector: Collector<T>): AsyncGenerator<Collected<T>> {
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
    yield { items: collector.take(), count: 0, bytes: 0, gaps: [{ from, to }], through: to };
    return;
  }
  // Batches smaller than a pull: what the caller archived is garbage sooner and fewer messages
  // live through the young generation's collections (measured on a backup of 20,000 messages of
  // 1 KiB: 6% less CPU and a quarter less memory than batches of 1000).
  const maxBatch = Math.max(1, options.batchSize ?? 200);
  // 1,000 messages a pull, fewer when the stream's messages are large on average: about 16 MiB
  const mean = start.bytes / start.messages;
  const pullSize = Math.max(1, options.pullSize ?? Math.min(1000, Math.floor((16 * 1024 * 1024) / Math.max(1, mean))));
  const batchBytes = options.batchBytes ?? 8 * 1024 * 1024;
  const idleMs = Math.max(1000, options.idleMs ?? 2000);
  // Read ahead while the caller works on a batch: the next pull goes out while fewer than a
  // pull's worth of messages (and fewer than four batches' worth of bytes) wait for the caller.
  const maxBuffered = pullSize;
  const maxBufferedBytes = 4 * batchBytes;

  let expected = from; // the next sequence to account for
  let gaps: SeqRange[] = [];
  let bytes = 0;
  const ready: Array<Collected<T>> = [];
  let buffered = 0;
  let bufferedBytes = 0;
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const gapTo = (last: number): void => {
    if (last >= expected) gaps.push({ from: expected, to: last });
    expected = last + 1;
  };
  const take = (): void => {
    const count = collector.count;
    ready.push({ items: collector.take(), count, bytes, gaps, through: expected - 1 });
    buffered += count;
    bufferedBytes += bytes;
    gaps = [];
    bytes = 0;
    poke();
  };
  const finish = (): void => {
    done = true;
    if (collector.count || gaps.length) take();
    void consumer.stop();
    poke();
  };
  const fail = (e: Error): void => {
    failure ??= e;
    void consumer.stop();
    poke();
  };

  // Nothing delivered for a while: the rest of the range may have been deleted during the read
  // (messages after `to` would have been delivered otherwise). Checked, not waited for forever.
  let lastDelivery = Date.now();
  const consumer = new RawPullConsumer(conn, stream, { pullSize, heartbeatMs: options.heartbeatMs }, {
    message(m, info) {
      if (done) return;
      lastDelivery = Date.now();
      const seq = info.streamSeq;
      if (seq < expected) return; // a replacement consumer replays: seen already
      if (seq > to) {
        gapTo(to);
        finish();
        return;
      }
      gapTo(seq - 1);
      try {
        bytes += collector.add(m, seq, info.timestampMs);
      } catch (e) {
        fail(e as Error);
        return;
      }
      expected = seq + 1;
      // nothing left after this message in the stream now: what is missing up to `to` is gone
      if (seq === to || info.pending === 0) {
        gapTo(to);
        finish();
      } else if (collector.count >= maxBatch || bytes >= batchBytes) take();
    },
    fail,
    resumeAt: () => expected,
    room: () => buffered < maxBuffered && bufferedBytes < maxBufferedBytes,
  });
  let checking = false;
  const watchdog = setInterval(() => {
    if (checking || done || Date.now() - lastDelivery < idleMs) return;
    checking = true;
    firstStoredFrom(conn, stream, expected).then(
      (next) => {
        checking = false;
        if (done || Date.now() - lastDelivery < idleMs) return;
        if (next === undefined || next > to) {
          gapTo(to);
          finish();
        }
      },
      () => (checking = false), // the read itself reports a lost connection
    );
  }, idleMs);
  const stopOnAbort = (): void => fail(new MqbakError('interrupted', 'interrupted'));
  signal?.addEventListener('abort', stopOnAbort, { once: true });

  try {
    try {
      await consumer.start(from);
    } catch (e) {
      fail(e as Error);
    }
    for (;;) {
      throwIfAborted(signal);
      if (failure) throw failure;
      const b = ready.shift();
      if (b) {
        buffered -= b.count;
        bufferedBytes -= b.bytes;
        consumer.pull();
        yield b;
        continue;
      }
      if (done) break;
      await new Promise<void>((resolve) => (wake = resolve));
    }
  } catch (e) {
    throwIfAborted(signal);
    throw streamError(e, conn, stream);
  } finally {
    clearInterval(watchdog);
    signal?.removeEventListener('abort', stopOnAbort);
    await consumer.stop();
  }
}
