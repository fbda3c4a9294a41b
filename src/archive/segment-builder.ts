/**
 * Writing segments (docs/FORMAT.md, "Segment layout"; the framing is segment-framing.ts): records
 * are encoded into block buffers, each block is compressed (possibly on another thread) and
 * copied into the segment in order behind its block header.
 */
import { crc32 } from 'node:zlib';
import type { ArchiveRecord, RecordColumns } from '../common/record.js';
import { ChunkedBytes, giveBlock, takeBlock, type SegmentBytes } from './buffer-pools.js';
import type { BlockCodec } from './codec.js';
import { columnRecordSize, prepareRecord, writeColumnRecord, writeRecord, type PreparedRecord } from './record-encoder.js';
import { CODEC_ZSTD, encodeBlockPrefix, encodeSegmentHeader, FLAG_CONTINUES, SEALED_SEGMENT_VERSION, SEGMENT_VERSION, type BlockHeader } from './segment-framing.js';
import type { SegmentSealing } from './encryption/store-key.js';
import { blockSealJob, sealSegmentBlock } from './segment-sealing.js';

export type { SegmentBytes } from './buffer-pools.js';

/**
 * Builds one segment from records. Records are encoded straight into the current block's buffer;
 * blocks are cut at record boundaries, except that a record longer than a block is split over as
 * many blocks as it needs.
 */
export class SegmentBuilder {
  /** the blocks' compressions, in order (awaited for backpressure) */
  private readonly parts: Array<Promise<unknown>> = [];
  /** done[i]: parts[i] compressed successfully (a failed one is awaited, so its error shows) */
  private readonly done: boolean[] = [true];
  /** the segment's bytes so far: each block is copied in, in order, once compressed */
  private readonly output = new ChunkedBytes();
  /** settles once every sealed block is in `output`; rejects with the first failure */
  private appended: Promise<void> = Promise.resolve();
  private block: Uint8Array | null = null;
  private blockView: DataView | null = null;
  private used = 0;
  /** whether the current block starts inside a record */
  private continues = false;
  private blockRecords = 0;
  // positions as given: a number from columns (no BigInt made per record), a bigint from records
  private blockFirst: bigint | number | null = null;
  private blockLast: bigint | number | null = null;
  private first: bigint | number | null = null;
  private last: bigint | number | null = null;
  private sealedRaw = 0;
  /** bytes this builder holds now: the open block's records, blocks being compressed, the segment's bytes */
  private held = 0;
  /** the segment header, copied into `output` with the first block (an empty builder holds no chunk) */
  private readonly header: Uint8Array;
  records = 0;
  firstTimestamp: number | null = null;
  lastTimestamp: number | null = null;

  constructor(
    private readonly codec: BlockCodec,
    private readonly level: number,
    private readonly blockSize: number,
    /** how many compressions may run at once (a worker pool can use more than 1) */
    private readonly concurrency = 1,
    /** an encrypted store's: every block sealed after compression (segment-sealing.ts) */
    readonly sealing: SegmentSealing | null = null,
    /** told every change of the bytes this builder holds (a writer's budget over all its streams) */
    private readonly account: (delta: number) => void = () => {},
  ) {
    // the header is not counted, and goes into the segment's first chunk with the first block:
    // a builder made for the next segment holds nothing yet (a stream the source is done with
    // keeps one, empty, until its close)
    this.header = encodeSegmentHeader(sealing === null ? SEGMENT_VERSION : SEALED_SEGMENT_VERSION);
    this.parts.push(Promise.resolve());
  }

  get firstPosition(): bigint | null {
    return this.first === null ? null : BigInt(this.first);
  }

  get lastPosition(): bigint | null {
    return this.last === null ? null : BigInt(this.last);
  }

  get rawBytes(): number {
    return this.sealedRaw + this.used;
  }

  get empty(): boolean {
    return this.records === 0;
  }

  /** Raw bytes in the open block (not yet compressed). */
  get openBytes(): number {
    return this.used;
  }

  /** Bytes held now: the open block's, those of blocks being compressed, the segment's so far. */
  get memory(): number {
    return this.held;
  }

  /** Bytes of the segment so far (header and compressed blocks). */
  get segmentBytes(): number {
    return this.output.length > 0 ? this.output.length : this.header.length;
  }

  private hold(delta: number): void {
    this.held += delta;
    this.account(delta);
  }

  private ensureBlock(): void {
    if (this.block === null) {
      this.block = takeBlock(this.blockSize);
      this.blockView = new DataView(this.block.buffer, this.block.byteOffset, this.block.byteLength);
    }
  }

  /** Appends a record (positions must increase; the caller checks); returns its encoded size. */
  async add(record: ArchiveRecord): Promise<number> {
    const size = this.addNow(record);
    const wait = this.backpressure();
    if (wait) await wait;
    return size;
  }

  /**
   * Encodes a record into the current block without waiting: a full block is sealed (its
   * compression starts) on the spot. Returns the record's encoded size. The caller must await
   * backpressure() before the next record when it is not null, or compressions pile up.
   */
  addNow(record: ArchiveRecord): number {
    const p = prepareRecord(record);
    return this.put(p.size, p, null, 0, record.position, record.timestamp);
  }

  /** addNow() for record i of the columns, encoded from them directly. */
  addColumnNow(c: RecordColumns, i: number): number {
    const ts = c.timestamp[i]!;
    return this.put(columnRecordSize(c, i), null, c, i, c.position[i]!, Number.isNaN(ts) ? null : ts);
  }

  /**
   * addColumnNow() for records from, from + 1, ... of the columns, up to `to` (exclusive), until
   * a record seals a block (backpressure() may then ask for a wait) or the segment holds `limit`
   * raw bytes: the caller's checks after a record, made only where they can change. Returns the
   * index after the last record added (rawBytes grows by their encoded sizes).
   */
  addColumnsNow(c: RecordColumns, from: number, to: number, limit: number): number {
    const blocks = this.parts.length;
    let i = from;
    while (i < to) {
      this.addColumnNow(c, i++);
      if (this.parts.length !== blocks || this.rawBytes >= limit) break;
    }
    return i;
  }

  /** Writes one record of `size` bytes: a prepared one, or record i of the columns. */
  private put(size: number, p: PreparedRecord | null, c: RecordColumns | null, i: number, position: bigint | number, timestamp: number | null): number {
    if (this.used > 0 && this.used + size > this.blockSize) this.seal();
    if (size <= this.blockSize - this.used) {
      this.ensureBlock();
      this.used = p ? writeRecord(p, this.block!, this.blockView!, this.used) : writeColumnRecord(c!, i, size, this.block!, this.blockView!, this.used);
      this.hold(size);
    } else {
      // longer than a block (and the block is empty): split it
      const whole = Buffer.allocUnsafe(size);
      const dv = new DataView(whole.buffer, whole.byteOffset, whole.byteLength);
      if (p) writeRecord(p, whole, dv, 0);
      else writeColumnRecord(c!, i, size, whole, dv, 0);
      let off = 0;
      while (size - off > this.blockSize) {
        this.ensureBlock();
        this.block!.set(whole.subarray(off, off + this.blockSize), 0);
        this.used = this.blockSize;
        this.hold(this.blockSize);
        off += this.blockSize;
        this.seal();
        this.continues = true;
      }
      this.ensureBlock();
      this.block!.set(whole.subarray(off), 0);
      this.used = size - off;
      this.hold(size - off);
    }
    this.blockRecords++;
    this.blockFirst ??= position;
    this.blockLast = position;
    this.records++;
    this.first ??= position;
    if (this.records === 1) this.firstTimestamp = timestamp;
    this.last = position;
    this.lastTimestamp = timestamp;
    if (this.used >= this.blockSize) this.seal();
    return size;
  }

  /**
   * Cuts the open block here (at a record boundary) and starts its compression, so that its raw
   * bytes are soon given back: a writer over its memory budget does so with small streams'
   * blocks. The caller awaits backpressure() before adding more, as after any record.
   */
  sealBlock(): void {
    this.seal();
  }

  /**
   * What to await before adding more: the oldest compression still running once `concurrency`
   * of them are in flight (this bounds the memory they hold), else null.
   */
  backpressure(): Promise<unknown> | null {
    const i = this.parts.length - this.concurrency;
    // parts[0] is the segment header, always done
    if (i < 1 || this.done[i]) return null;
    return this.parts[i]!;
  }

  private seal(): void {
    if (this.used === 0) return;
    const buffer = this.block!;
    const raw = buffer.subarray(0, this.used);
    const flags = this.continues ? FLAG_CONTINUES : 0;
    const records = this.blockRecords;
    const first = BigInt(this.blockFirst ?? 0n);
    const last = BigInt(this.blockLast ?? 0n);
    this.sealedRaw += raw.length;
    // raw may be moved to a worker (and emptied here) before the block header is written
    const rawLength = raw.length;
    this.block = null;
    this.blockView = null;
    this.used = 0;
    this.continues = false;
    this.blockRecords = 0;
    this.blockFirst = null;
    this.blockLast = null;
    const level = this.level;
    const codec = this.codec;
    const sealing = this.sealing;
    // parts[0] is the segment header: block i is parts[i + 1]
    const blockIndex = this.parts.length - 1;
    const block = (async () => {
      if (sealing !== null && codec.sealsBlocks && codec.compressBlock) {
        // compressed and sealed on the codec's thread, in the frame buffer (segment-sealing.ts);
        // the job is made once, here: a retried upload resends these bytes (the nonce rule, nonce.ts)
        const job = blockSealJob(sealing, blockIndex, { version: SEGMENT_VERSION, codec: CODEC_ZSTD, flags, rawLength, compressedLength: 0, rawCrc: 0, compressedCrc: 0, records, firstPosition: first, lastPosition: last });
        const c = await codec.compressBlock(raw, level, { transfer: true, seal: job });
        if (c.returned) giveBlock(c.returned);
        else if (buffer.byteLength > 0) giveBlock(buffer);
        return { prefix: c.prefix!, frame: c.frame, release: c.release };
      }
      let frame: Uint8Array;
      let rawCrc: number;
      let frameCrc: number;
      let release: (() => void) | undefined;
      if (codec.compressBlock) {
        // the block's memory goes to the codec's thread and comes back (no copy either way)
        const c = await codec.compressBlock(raw, level, { transfer: true });
        ({ frame, rawCrc, frameCrc, release } = c);
        if (c.returned) giveBlock(c.returned);
        else if (buffer.byteLength > 0) giveBlock(buffer);
      } else {
        rawCrc = crc32(raw);
        frame = await codec.compress(raw, level);
        // the codec is done with the raw bytes (copied into its heap)
        giveBlock(buffer);
        frameCrc = crc32(frame);
      }
      const header: BlockHeader = {
        version: SEGMENT_VERSION,
        codec: CODEC_ZSTD,
        flags,
        rawLength,
        compressedLength: frame.length,
        rawCrc,
        compressedCrc: frameCrc,
        records,
        firstPosition: first,
        lastPosition: last,
      };
      if (sealing !== null) {
        // sealed once, here: a retried upload resends these bytes (the nonce rule, nonce.ts)
        const { prefix, sealed } = sealSegmentBlock(sealing, blockIndex, header, frame);
        release?.();
        return { prefix, frame: sealed, release: undefined };
      }
      return { prefix: encodeBlockPrefix(header), frame, release };
    })();
    const index = this.parts.length;
    block.then(
      () => {
        this.done[index] = true;
      },
      () => {},
    );
    this.parts.push(block);
    // copied into the segment in block order, and the frame's memory handed back at once
    block.then(
      () => this.hold(-rawLength),
      () => this.hold(-rawLength),
    );
    this.appended = this.appended.then(async () => {
      const b = await block;
      if (this.output.length === 0) this.output.append(this.header);
      this.output.append(b.prefix);
      this.output.append(b.frame);
      this.hold(b.prefix.length + b.frame.length);
      b.release?.();
    });
    this.appended.catch(() => {}); // awaited by finish
  }

  /**
   * Seals the last block and returns the segment's bytes as parts. The caller calls release()
   * once it is done with them (after storing); the builder is not used again.
   */
  async finishParts(): Promise<SegmentBytes> {
    this.seal();
    try {
      await this.appended;
    } catch (e) {
      this.output.take().release();
      this.hold(-this.held);
      throw e;
    }
    if (this.output.length === 0) this.output.append(this.header);
    // the caller holds them from here
    const bytes = this.output.take();
    this.hold(this.header.length - bytes.length);
    return bytes;
  }

  /** Seals the last block and returns the segment's bytes in one buffer. */
  async finish(): Promise<Uint8Array> {
    const s = await this.finishParts();
    const out = Buffer.concat(s.parts); // a copy: the parts go back for reuse
    s.release();
    return out;
  }
}
