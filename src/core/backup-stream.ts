/**
 * One stream of a backup being written: records appended in position order are encoded into
 * blocks and segments (src/archive/segment-builder.ts), each segment stored once, one at a time
 * (backpressure), and the stream's manifest entry made on close. Part of the backup writer
 * (backup-writer.ts), which owns the store, the settings and the memory budget shared by all
 * its streams.
 */
import type { ArchiveRecord, RecordColumns } from '../common/record.js';
import type { Progress } from '../common/progress.js';
import { sha256Hex, type SegmentEntry, type StreamAddress, type StreamEntry } from '../archive/manifest.js';
import type { Store } from '../stores/store.js';
import { MqbakError, throwIfAborted, withContext } from '../common/errors.js';
import type { BlockCodec } from '../archive/codec.js';
import { SegmentBuilder, type SegmentBytes } from '../archive/segment-builder.js';
import { segmentKey } from '../archive/keys.js';
import { masterKeyOf, segmentSealing } from '../archive/encryption/store-key.js';

export interface StreamSpec {
  name: string;
  /** Where the stream lives on the source broker (the adapter's StreamAddress). */
  address: StreamAddress;
  /** First position this backup covers (inclusive). */
  from: bigint;
  extra?: Record<string, unknown>;
}

export interface StreamWriter {
  readonly name: string;
  /**
   * Appends a record; positions must increase. Resolves once the record is buffered; when a
   * segment is full it waits for that segment to be stored (backpressure).
   */
  append(record: ArchiveRecord): Promise<void>;
  /** append() for many records at once: one call per broker batch instead of one per record. */
  appendMany(records: readonly ArchiveRecord[]): Promise<void>;
  /** appendMany() for records laid out as columns (RecordColumns), encoded without an object per record. */
  appendColumns(columns: RecordColumns): Promise<void>;
  /** Stores the buffered records as a segment now (if any); resolves when durable. */
  flush(): Promise<void>;
  /**
   * The source will append nothing more: what the stream holds is stored now, without waiting
   * for close(), and its buffers go back. Resolves once the last segment is handed to the store
   * (close() waits for it to be durable). Appending afterwards is refused; addGap and setExtra
   * still count.
   */
  end(): Promise<void>;
  /** Notes a range [from, to) the source no longer had (retention); kept in the manifest. */
  addGap(from: bigint, to: bigint, reason: string): void;
  /** Sets manifest stream.extra[key]. */
  setExtra(key: string, value: unknown): void;
  /** Flushes and closes the stream; `to` is the end position (exclusive) covered. */
  close(to: bigint): Promise<StreamEntry>;
}

export interface Settings {
  level: number;
  blockSize: number;
  segmentSize: number;
  memoryBudget: number;
  codec: BlockCodec;
  concurrency: number;
}

/** What a stream needs of the backup it belongs to. */
export interface StreamOwner {
  readonly id: string;
  readonly settings: Settings;
  readonly options: { store: Store; signal?: AbortSignal };
  readonly progress: Progress;
  readonly aborted: boolean;
  /**
   * Bytes held over all streams: records in open blocks, blocks being compressed, segments
   * being built and being stored.
   */
  held: number;
  /** Streams opened and not closed yet: they share the memory budget. */
  openStreams: number;
  /** The last segments of ended streams being stored (end() waits while there are too many). */
  readonly endings: Set<Promise<void>>;
}

export class BackupStream implements StreamWriter {
  private builder: SegmentBuilder;
  private seq = 0;
  /** the seq of the next builder: builders are stored in the order they are made, each one once */
  private builderSeq = 0;
  private last: bigint | null = null;
  private records = 0;
  private readonly segments: SegmentEntry[] = [];
  private readonly gaps: Array<{ from: string; to: string; reason: string }> = [];
  private readonly extra: Record<string, unknown>;
  /** The segment being stored (at most one per stream: keeps segments in order and bounds memory). */
  private inFlight: Promise<void> | null = null;
  private failure: MqbakError | null = null;
  private busy = false;
  /** end() was called: no more records */
  private ended = false;
  private rawBytes = 0;
  entry: StreamEntry | null = null;

  constructor(
    private readonly writer: StreamOwner,
    readonly spec: StreamSpec,
    private readonly index: number,
  ) {
    this.extra = { ...(spec.extra ?? {}) };
    this.builder = this.newBuilder();
  }

  get name(): string {
    return this.spec.name;
  }

  private newBuilder(): SegmentBuilder {
    const s = this.writer.settings;
    const mk = masterKeyOf(this.writer.options.store);
    const sealing = mk === null ? null : segmentSealing(mk, segmentKey(this.writer.id, this.index, this.builderSeq));
    this.builderSeq++;
    return new SegmentBuilder(s.codec, s.level, s.blockSize, s.concurrency, sealing, (delta) => {
      this.writer.held += delta;
    });
  }

  private check(appending = true): void {
    if (this.failure) throw this.failure;
    if (this.entry) throw new MqbakError('internal', `stream ${this.name} is closed`);
    if (appending && this.ended) throw new MqbakError('internal', `stream ${this.name}: records after its end`);
    if (this.writer.aborted) throw new MqbakError('internal', `backup ${this.writer.id} was aborted`);
    throwIfAborted(this.writer.options.signal);
  }

  /** One operation at a time: a pipeline that forgets to await append() is a bug, said plainly. */
  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    if (this.busy) throw new MqbakError('internal', `stream ${this.name}: append/flush/close called before the previous one resolved`);
    this.busy = true;
    try {
      return await f();
    } finally {
      this.busy = false;
    }
  }

  append(record: ArchiveRecord): Promise<void> {
    return this.appendMany([record]);
  }

  appendMany(records: readonly ArchiveRecord[]): Promise<void> {
    return this.exclusive(async () => {
      this.check();
      for (const record of records) {
        if (record.position < this.spec.from) {
          throw new MqbakError('internal', `stream ${this.name}: position ${record.position} is before the stream's from ${this.spec.from}`);
        }
        if (this.last !== null && record.position <= this.last) {
          throw new MqbakError('internal', `stream ${this.name}: position ${record.position} does not follow ${this.last}`);
        }
        this.last = record.position;
      }
      await this.addAll(records.length, (b, i) => {
        b.addNow(records[i]!);
        return i + 1;
      });
    });
  }

  appendColumns(columns: RecordColumns): Promise<void> {
    return this.exclusive(async () => {
      this.check();
      const n = columns.count;
      if (n === 0) return;
      const pos = columns.position;
      const first = BigInt(pos[0]!);
      if (first < this.spec.from) throw new MqbakError('internal', `stream ${this.name}: position ${first} is before the stream's from ${this.spec.from}`);
      if (this.last !== null && first <= this.last) throw new MqbakError('internal', `stream ${this.name}: position ${first} does not follow ${this.last}`);
      for (let i = 1; i < n; i++) {
        if (!(pos[i]! > pos[i - 1]!)) throw new MqbakError('internal', `stream ${this.name}: position ${pos[i]} does not follow ${pos[i - 1]}`);
      }
      if (!Number.isSafeInteger(pos[n - 1]!)) throw new MqbakError('internal', `stream ${this.name}: position ${pos[n - 1]} is not a safe integer`);
      this.last = BigInt(pos[n - 1]!);
      // records encoded in runs up to a cut block or a full segment (SegmentBuilder.addColumnsNow)
      await this.addAll(n, (b, i) => b.addColumnsNow(columns, i, n, this.writer.settings.segmentSize));
    });
  }

  /**
   * Adds records 0..count-1 (checked already): `run(builder, i)` encodes records from i on,
   * synchronously (the builder's rawBytes grows by their encoded sizes), and returns the index
   * after the last one it added. Only a full block (compression bound) or segment makes it wait, checked after each run.
   */
  private async addAll(count: number, run: (b: SegmentBuilder, from: number) => number): Promise<void> {
    const { segmentSize } = this.writer.settings;
    for (let i = 0; i < count; ) {
      const b = this.builder;
      const before = b.rawBytes;
      const next = run(b, i);
      this.records += next - i;
      this.rawBytes += b.rawBytes - before;
      i = next;
      const wait = b.backpressure();
      if (wait) {
        await wait;
        this.check(false);
      }
      if (this.builder.rawBytes >= segmentSize) await this.storeSegment();
    }
    await this.keepToBudget();
    this.writer.progress.update({ stream: this.name, records: this.records, bytes: this.rawBytes });
  }

  /**
   * Over the writer's memory budget, a stream holding more than its share of it (the budget over
   * the open streams) gives memory back: its open block is compressed now (once it holds at
   * least MIN_EARLY_BLOCK bytes), and once its compressed blocks are past its share, its segment
   * is stored. Memory then stays near the budget plus MIN_EARLY_BLOCK per open stream, however
   * many streams a backup has.
   */
  private async keepToBudget(): Promise<void> {
    const { memoryBudget } = this.writer.settings;
    if (this.writer.held < memoryBudget || this.builder.empty) return;
    const share = budgetShare(memoryBudget, this.writer.openStreams);
    if (this.builder.openBytes >= Math.max(share, MIN_EARLY_BLOCK)) {
      this.builder.sealBlock();
      const wait = this.builder.backpressure();
      if (wait) {
        await wait;
        this.check();
      }
    }
    if (this.builder.segmentBytes >= share) await this.storeSegment();
  }

  flush(): Promise<void> {
    return this.exclusive(async () => {
      this.check(false);
      await this.storeSegment();
      await this.waitInFlight();
    });
  }

  end(): Promise<void> {
    return this.exclusive(async () => {
      this.check(false);
      if (this.ended) return;
      this.ended = true;
      // it holds nothing from here: the budget is shared by the others
      this.writer.openStreams--;
      // the last block is compressed and the segment's store started; the builder left is empty
      await this.storeSegment();
      const stored = this.inFlight;
      if (stored === null) return;
      // a source ending thousands of small streams one after the other: a few stores at a time
      const endings = this.writer.endings;
      endings.add(stored);
      void stored.then(() => endings.delete(stored));
      while (endings.size > MAX_ENDINGS_STORED) await Promise.race(endings);
    });
  }

  addGap(from: bigint, to: bigint, reason: string): void {
    if (to <= from) throw new MqbakError('internal', `stream ${this.name}: empty gap [${from}, ${to})`);
    this.gaps.push({ from: from.toString(), to: to.toString(), reason });
  }

  setExtra(key: string, value: unknown): void {
    this.extra[key] = value;
  }

  close(to: bigint): Promise<StreamEntry> {
    return this.exclusive(async () => {
      this.check(false);
      if (to < this.spec.from) throw new MqbakError('internal', `stream ${this.name}: to ${to} is before from ${this.spec.from}`);
      if (this.last !== null && to <= this.last) throw new MqbakError('internal', `stream ${this.name}: to ${to} does not cover position ${this.last}`);
      await this.storeSegment();
      await this.waitInFlight();
      const s = this.spec;
      const entry: StreamEntry = {
        name: s.name,
        address: { ...s.address },
        from: s.from.toString(),
        to: to.toString(),
        records: this.records,
        segments: [...this.segments],
        gaps: [...this.gaps],
        extra: { ...this.extra },
      };
      this.entry = entry;
      if (!this.ended) this.writer.openStreams--;
      return entry;
    });
  }

  /** Waits for the segment in flight, if any, and rethrows its failure. */
  private async waitInFlight(): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (this.failure) throw this.failure;
  }

  async settle(): Promise<void> {
    if (this.inFlight) await this.inFlight.catch(() => {});
  }

  /**
   * Stores the current segment (if it holds records). The previous segment must be durable
   * first, so one waits here when the store is slower than the source (backpressure).
   */
  private async storeSegment(): Promise<void> {
    if (this.builder.empty) return;
    const b = this.builder;
    this.builder = this.newBuilder();
    const bytes = await b.finishParts();
    try {
      await this.waitInFlight();
      this.check(false);
    } catch (e) {
      bytes.release();
      throw e;
    }
    // the blocks were sealed for the place this key names (their nonces): never store them elsewhere
    if (b.sealing !== null && b.sealing.segmentSeq !== this.seq) {
      bytes.release();
      throw new MqbakError('internal', `stream ${this.name}: segment sealed as ${b.sealing.segmentSeq}, stored as ${this.seq}`);
    }
    const key = segmentKey(this.writer.id, this.index, this.seq++);
    const size = bytes.length;
    const seg: SegmentEntry = {
      key,
      bytes: size,
      sha256: sha256Hex(bytes.parts),
      records: b.records,
      firstPosition: b.firstPosition!.toString(),
      lastPosition: b.lastPosition!.toString(),
      firstTimestamp: b.firstTimestamp,
      lastTimestamp: b.lastTimestamp,
    };
    const { store, signal } = this.writer.options;
    this.writer.held += size;
    const p = (async () => {
      try {
        // the segment's chunks are reused once the store is done with them
        const info = await store.put(key, bytes.parts, { signal, sha256: seg.sha256 }).finally(() => bytes.release());
        if (info.size !== size) throw new MqbakError('integrity', `stored ${info.size} of ${size} bytes`);
      } catch (e) {
        throw withContext(e, `store segment ${key}`, 'unreachable');
      }
      this.segments.push(seg);
    })();
    this.inFlight = p.then(
      () => {
        this.writer.held -= size;
      },
      (e: unknown) => {
        this.writer.held -= size;
        this.failure ??= e instanceof MqbakError ? e : withContext(e, `stream ${this.name}`);
      },
    );
  }
}

/** Last segments of ended streams stored at once (end() waits for one to be durable past it). */
export const MAX_ENDINGS_STORED = 8;

/** Smallest share of the memory budget a stream's segment is stored at (a segment per few KiB would be a store's worst case). */
export const MIN_STREAM_SHARE = 4096;

/**
 * Smallest open block cut early for the budget. Smaller blocks compress worse, and cutting them
 * was measured to cost more memory than it saved: thousands of small buffers churned through the
 * garbage collector and the C heap (docs/PERFORMANCE.md, "Kafka at scale").
 */
export const MIN_EARLY_BLOCK = 64 * 1024;

/** Bytes a stream may hold while the writer is over its budget: an equal share, at least MIN_STREAM_SHARE. */
export function budgetShare(memoryBudget: number, openStreams: number): number {
  return Math.max(MIN_STREAM_SHARE, Math.floor(memoryBudget / Math.max(1, openStreams)));
}
