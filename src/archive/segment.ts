/**
 * Segments (docs/FORMAT.md, "Segment layout"): the records of one stream, as a sequence of zstd
 * frames that `zstd -dc` decompresses to the concatenated record encodings. mqbak's own framing
 * travels in zstd *skippable frames*, which zstd ignores:
 *
 *   segment := segment-header block*
 *   segment-header := skippable(magic 0x184D2A50, 8 bytes: "MQBS" u16 version u16 0)
 *   block := skippable(magic 0x184D2A50, 48 bytes: block header) zstd-frame
 *
 * Every block states its raw and compressed lengths and their CRC-32s, because zstd-codec
 * decompresses a truncated frame without an error (FINDINGS). A record longer than a block is
 * split over consecutive blocks; a block counts the records that END in it.
 */
import { crc32 } from 'node:zlib';
import { MqbakError } from '../common/errors.js';
import { ColumnsBuilder, type ArchiveRecord, type RecordColumns } from '../common/record.js';
import { utf8NameChecker } from '../common/utf8-names.js';
import type { BlockCodec } from './codec.js';
import { columnRecordSize, decodeRecordAt, decodeRecordColumns, prepareRecord, writeColumnRecord, writeRecord, type PreparedRecord } from './record-codec.js';

export const SEGMENT_VERSION = 1;
export const SKIPPABLE_MAGIC = 0x184d2a50;
export const SEGMENT_MAGIC = 'MQBS';
export const BLOCK_MAGIC = 'MQBB';
export const CODEC_ZSTD = 1;
export const SEGMENT_HEADER_SIZE = 16;
export const BLOCK_HEADER_SIZE = 48;
/** skippable frame magic + size + block header */
export const BLOCK_PREFIX_SIZE = 8 + BLOCK_HEADER_SIZE;
/** Flag bit 0: the block's first bytes continue a record begun in the previous block. */
export const FLAG_CONTINUES = 1;

export interface BlockHeader {
  version: number;
  codec: number;
  flags: number;
  rawLength: number;
  compressedLength: number;
  rawCrc: number;
  compressedCrc: number;
  records: number;
  firstPosition: bigint;
  lastPosition: bigint;
}

const ascii = (s: string) => new TextEncoder().encode(s);

export function encodeSegmentHeader(): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, SKIPPABLE_MAGIC, true);
  dv.setUint32(4, 8, true);
  out.set(ascii(SEGMENT_MAGIC), 8);
  dv.setUint16(12, SEGMENT_VERSION, true);
  dv.setUint16(14, 0, true);
  return out;
}

export function encodeBlockPrefix(h: BlockHeader): Uint8Array {
  const out = new Uint8Array(BLOCK_PREFIX_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, SKIPPABLE_MAGIC, true);
  dv.setUint32(4, BLOCK_HEADER_SIZE, true);
  const b = 8;
  out.set(ascii(BLOCK_MAGIC), b);
  dv.setUint16(b + 4, h.version, true);
  out[b + 6] = h.codec;
  out[b + 7] = h.flags;
  dv.setUint32(b + 8, h.rawLength, true);
  dv.setUint32(b + 12, h.compressedLength, true);
  dv.setUint32(b + 16, h.rawCrc, true);
  dv.setUint32(b + 20, h.compressedCrc, true);
  dv.setUint32(b + 24, h.records, true);
  dv.setBigInt64(b + 28, h.firstPosition, true);
  dv.setBigInt64(b + 36, h.lastPosition, true);
  dv.setUint32(b + 44, crc32(out.subarray(b, b + 44)), true);
  return out;
}

function integrity(context: string, message: string): MqbakError {
  return new MqbakError('integrity', `${context}: ${message}`);
}

function decodeBlockHeader(bytes: Uint8Array, at: number, context: string, index: number): BlockHeader {
  const where = `block ${index} at byte ${at}`;
  if (bytes.length - at < BLOCK_PREFIX_SIZE) throw integrity(context, `${where}: truncated block header (${bytes.length - at} bytes left)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(at, true) !== SKIPPABLE_MAGIC || dv.getUint32(at + 4, true) !== BLOCK_HEADER_SIZE) {
    throw integrity(context, `${where}: no block header frame`);
  }
  const b = at + 8;
  if (String.fromCharCode(...bytes.subarray(b, b + 4)) !== BLOCK_MAGIC) throw integrity(context, `${where}: bad block magic`);
  if (dv.getUint32(b + 44, true) !== crc32(bytes.subarray(b, b + 44))) throw integrity(context, `${where}: block header checksum mismatch`);
  const h: BlockHeader = {
    version: dv.getUint16(b + 4, true),
    codec: bytes[b + 6]!,
    flags: bytes[b + 7]!,
    rawLength: dv.getUint32(b + 8, true),
    compressedLength: dv.getUint32(b + 12, true),
    rawCrc: dv.getUint32(b + 16, true),
    compressedCrc: dv.getUint32(b + 20, true),
    records: dv.getUint32(b + 24, true),
    firstPosition: dv.getBigInt64(b + 28, true),
    lastPosition: dv.getBigInt64(b + 36, true),
  };
  if (h.version > SEGMENT_VERSION) {
    throw new MqbakError('unsupported', `${context}: ${where}: block format version ${h.version} is newer than this mqbak knows (${SEGMENT_VERSION})`, {
      hint: 'upgrade mqbak to read this archive',
    });
  }
  if (h.version !== SEGMENT_VERSION) throw integrity(context, `${where}: bad block version ${h.version}`);
  if (h.codec !== CODEC_ZSTD) throw integrity(context, `${where}: unknown codec ${h.codec}`);
  if ((h.flags & ~FLAG_CONTINUES) !== 0) throw integrity(context, `${where}: unknown flags ${h.flags}`);
  if (h.rawLength === 0) throw integrity(context, `${where}: empty block`);
  return h;
}

/** Checks the segment header; returns the offset of the first block. */
export function checkSegmentHeader(bytes: Uint8Array, context: string): number {
  if (bytes.length < SEGMENT_HEADER_SIZE) throw integrity(context, `${bytes.length} bytes: shorter than a segment header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== SKIPPABLE_MAGIC || dv.getUint32(4, true) !== 8 || String.fromCharCode(...bytes.subarray(8, 12)) !== SEGMENT_MAGIC) {
    throw integrity(context, 'not an mqbak segment (bad header)');
  }
  const version = dv.getUint16(12, true);
  if (version > SEGMENT_VERSION) {
    throw new MqbakError('unsupported', `${context}: segment format version ${version} is newer than this mqbak knows (${SEGMENT_VERSION})`, {
      hint: 'upgrade mqbak to read this archive',
    });
  }
  if (version !== SEGMENT_VERSION || dv.getUint16(14, true) !== 0) throw integrity(context, `bad segment header version ${version}`);
  return SEGMENT_HEADER_SIZE;
}

export interface DecodedSegmentSummary {
  blocks: number;
  records: number;
  rawBytes: number;
}

/**
 * Decodes a whole segment, checking every block header, length, CRC-32, record count and
 * position before it yields that block's records. Errors are MqbakError('integrity') starting
 * with `context` (e.g. "segment <key>"). `summary` is filled as it goes.
 */
export async function* decodeSegment(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary = { blocks: 0, records: 0, rawBytes: 0 },
): AsyncGenerator<ArchiveRecord> {
  for await (const records of decodeSegmentBlocks(bytes, codec, context, summary)) yield* records;
}

interface PendingBlock {
  h: BlockHeader;
  where: string;
  raw: Promise<Uint8Array>;
}

/** What a block's records came to, in either shape (objects or columns). */
export interface DecodedBlock<T> {
  records: T;
  count: number;
  /** Positions and timestamps of the block's first and last record (0n and null when count is 0). */
  firstPosition: bigint;
  lastPosition: bigint;
  firstTimestamp: number | null;
  lastTimestamp: number | null;
}

/**
 * Decodes the whole records of buf (a block's raw bytes, after those carried over from the
 * block before): checks each and that positions strictly increase from `lastPosition` (null
 * at the segment's start); returns them and the offset after the last whole one. Throws
 * 'integrity' messages without context.
 */
type RecordsDecoder<T> = (buf: Uint8Array, lastPosition: bigint | null) => { block: DecodedBlock<T>; next: number };

/**
 * decodeSegment, one array of records per block (cheaper for readers of many records than one
 * await per record). Each block's header and frame checksum are checked before the previous
 * block's records are handed out; a finding is still reported in block order.
 */
export async function* decodeSegmentBlocks(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary = { blocks: 0, records: 0, rawBytes: 0 },
): AsyncGenerator<ArchiveRecord[]> {
  for await (const b of decodeSegmentObjects(bytes, codec, context, summary)) yield b.records;
}

/** decodeSegmentBlocks, with each block's first and last positions and timestamps. */
export function decodeSegmentObjects(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary = { blocks: 0, records: 0, rawBytes: 0 },
): AsyncGenerator<DecodedBlock<ArchiveRecord[]>> {
  return walkSegment(bytes, codec, context, summary, decodeObjects);
}

/**
 * decodeSegmentBlocks, each block's records as columns over its raw bytes (no object per
 * record), with the same checks. Positions must be below 2^53 in magnitude (see
 * decodeRecordColumns).
 */
export function decodeSegmentColumns(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary = { blocks: 0, records: 0, rawBytes: 0 },
): AsyncGenerator<DecodedBlock<RecordColumns>> {
  const checkName = utf8NameChecker();
  const decode: RecordsDecoder<RecordColumns> = (buf, lastPosition) => {
    const out = new ColumnsBuilder(256, 768);
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const next = decodeRecordColumns(buf, 0, dv, out, checkName);
    const c = out.finish(buf);
    let last = lastPosition === null ? -Infinity : Number(lastPosition);
    for (let i = 0; i < c.count; i++) {
      const p = c.position[i]!;
      if (p <= last) throw new MqbakError('integrity', `position ${p} does not follow ${last}`);
      last = p;
    }
    const n = c.count;
    const ts = (i: number) => (Number.isNaN(c.timestamp[i]!) ? null : c.timestamp[i]!);
    const block: DecodedBlock<RecordColumns> = n === 0
      ? { records: c, count: 0, firstPosition: 0n, lastPosition: 0n, firstTimestamp: null, lastTimestamp: null }
      : { records: c, count: n, firstPosition: BigInt(c.position[0]!), lastPosition: BigInt(c.position[n - 1]!), firstTimestamp: ts(0), lastTimestamp: ts(n - 1) };
    return { block, next };
  };
  return walkSegment(bytes, codec, context, summary, decode);
}

const decodeObjects: RecordsDecoder<ArchiveRecord[]> = (buf, lastPosition) => {
  const records: ArchiveRecord[] = [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let off = 0;
  for (;;) {
    const decoded = decodeRecordAt(buf, off, dv);
    if (decoded === null) break;
    const p = decoded.record.position;
    if (lastPosition !== null && p <= lastPosition) throw new MqbakError('integrity', `position ${p} does not follow ${lastPosition}`);
    lastPosition = p;
    records.push(decoded.record);
    off = decoded.next;
  }
  const n = records.length;
  const block: DecodedBlock<ArchiveRecord[]> = n === 0
    ? { records, count: 0, firstPosition: 0n, lastPosition: 0n, firstTimestamp: null, lastTimestamp: null }
    : { records, count: n, firstPosition: records[0]!.position, lastPosition: records[n - 1]!.position, firstTimestamp: records[0]!.timestamp, lastTimestamp: records[n - 1]!.timestamp };
  return { block, next: off };
};

async function* walkSegment<T>(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary,
  decode: RecordsDecoder<T>,
): AsyncGenerator<DecodedBlock<T>> {
  let at = checkSegmentHeader(bytes, context);
  let carry: Uint8Array = new Uint8Array(0);
  let lastPosition: bigint | null = null;
  let index = 0;
  const queue: Array<PendingBlock | { error: unknown }> = [];
  let broken = false;
  // reads the next block's header and frame and starts its decompression
  const startNext = (): void => {
    if (broken || at >= bytes.length) return;
    try {
      const h = decodeBlockHeader(bytes, at, context, index);
      const where = `block ${index} at byte ${at}`;
      const frameStart = at + BLOCK_PREFIX_SIZE;
      const frameEnd = frameStart + h.compressedLength;
      if (frameEnd > bytes.length) throw integrity(context, `${where}: compressed length ${h.compressedLength} runs past the end of the segment (truncated?)`);
      const frame = bytes.subarray(frameStart, frameEnd);
      if (crc32(frame) !== h.compressedCrc) throw integrity(context, `${where}: compressed data checksum mismatch`);
      const raw = codec.decompress(frame, h.rawLength).catch((e: unknown) => {
        throw integrity(context, `${where}: ${e instanceof Error ? e.message : String(e)}`);
      });
      raw.catch(() => {}); // surfaces when its turn comes (or never, if an earlier block fails)
      queue.push({ h, where, raw });
      at = frameEnd;
      index++;
    } catch (e) {
      // reported in order, after the blocks before it
      broken = true;
      queue.push({ error: e });
    }
  };
  startNext();
  while (queue.length > 0) {
    const next = queue.shift()!;
    if ('error' in next) throw next.error;
    startNext();
    const { h, where } = next;
    if (((h.flags & FLAG_CONTINUES) !== 0) !== carry.length > 0) {
      throw integrity(context, `${where}: continuation flag ${h.flags & FLAG_CONTINUES} but ${carry.length} bytes of an unfinished record`);
    }
    const raw = await next.raw;
    if (raw.length !== h.rawLength) throw integrity(context, `${where}: decompressed to ${raw.length} bytes, header says ${h.rawLength}`);
    if (crc32(raw) !== h.rawCrc) throw integrity(context, `${where}: raw data checksum mismatch`);
    let buf: Uint8Array;
    if (carry.length > 0) {
      buf = new Uint8Array(carry.length + raw.length);
      buf.set(carry, 0);
      buf.set(raw, carry.length);
    } else {
      buf = raw;
    }
    let decoded: ReturnType<RecordsDecoder<T>>;
    try {
      decoded = decode(buf, lastPosition);
    } catch (e) {
      throw integrity(context, `${where}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const { block, next: off } = decoded;
    carry = off === buf.length ? new Uint8Array(0) : buf.slice(off);
    if (block.count !== h.records) throw integrity(context, `${where}: ${block.count} records, header says ${h.records}`);
    if (block.count > 0) {
      if (block.firstPosition !== h.firstPosition || block.lastPosition !== h.lastPosition) {
        throw integrity(context, `${where}: positions ${block.firstPosition}..${block.lastPosition}, header says ${h.firstPosition}..${h.lastPosition}`);
      }
      lastPosition = block.lastPosition;
    } else if (h.firstPosition !== 0n || h.lastPosition !== 0n) {
      throw integrity(context, `${where}: no record ends here but header positions are ${h.firstPosition}..${h.lastPosition}`);
    }
    summary.blocks++;
    summary.records += block.count;
    summary.rawBytes += raw.length;
    yield block;
  }
  if (carry.length > 0) throw integrity(context, `the last record is cut off (${carry.length} bytes of it)`);
}

// Block buffers are reused: a fresh 1 MiB buffer per block costs more than encoding the records
// into it (page faults and zeroing; measured 0.3-0.6 s per 180 MB on this kind of machine).
const freeBlocks = new Map<number, Uint8Array[]>();
const MAX_FREE_BLOCKS = 16;

function takeBlock(size: number): Uint8Array {
  return freeBlocks.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
}

function giveBlock(b: Uint8Array): void {
  let list = freeBlocks.get(b.length);
  if (!list) freeBlocks.set(b.length, (list = []));
  if (list.length < MAX_FREE_BLOCKS) list.push(b);
}

/**
 * A finished segment's bytes, as the parts they were collected in (chunks of SEGMENT_CHUNK_SIZE
 * bytes, the last one shorter). `release()` hands the chunks back for the next segment: after it,
 * the parts must not be read.
 */
export interface SegmentBytes {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
  release(): void;
}

/** Segments are collected in chunks of this size, reused from one segment to the next. */
export const SEGMENT_CHUNK_SIZE = 1024 * 1024;
// enough for the segments a backup builds and stores at once (a few MiB each, compressed); more
// than this stay with the garbage collector
const MAX_FREE_CHUNKS = 48;
const freeChunks: Uint8Array[] = [];

class ChunkedBytes {
  private readonly chunks: Uint8Array[] = [];
  private used = 0;
  length = 0;

  append(b: Uint8Array): void {
    let o = 0;
    while (o < b.length) {
      let cur = this.chunks[this.chunks.length - 1];
      if (!cur || this.used === cur.length) {
        cur = freeChunks.pop() ?? Buffer.allocUnsafeSlow(SEGMENT_CHUNK_SIZE);
        this.chunks.push(cur);
        this.used = 0;
      }
      const n = Math.min(b.length - o, cur.length - this.used);
      cur.set(n === b.length ? b : b.subarray(o, o + n), this.used);
      this.used += n;
      o += n;
    }
    this.length += b.length;
  }

  /** The bytes, and the chunks' return. */
  take(): SegmentBytes {
    const chunks = this.chunks.splice(0);
    const parts = chunks.map((c, i) => (i === chunks.length - 1 ? c.subarray(0, this.used) : c));
    let released = false;
    return {
      parts,
      length: this.length,
      release: () => {
        if (released) return;
        released = true;
        for (const c of chunks) if (freeChunks.length < MAX_FREE_CHUNKS) freeChunks.push(c);
      },
    };
  }
}

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
  private blockFirst: bigint | null = null;
  private blockLast: bigint | null = null;
  private sealedRaw = 0;
  records = 0;
  firstPosition: bigint | null = null;
  lastPosition: bigint | null = null;
  firstTimestamp: number | null = null;
  lastTimestamp: number | null = null;

  constructor(
    private readonly codec: BlockCodec,
    private readonly level: number,
    private readonly blockSize: number,
    /** how many compressions may run at once (a worker pool can use more than 1) */
    private readonly concurrency = 1,
  ) {
    this.output.append(encodeSegmentHeader());
    this.parts.push(Promise.resolve());
  }

  get rawBytes(): number {
    return this.sealedRaw + this.used;
  }

  get empty(): boolean {
    return this.records === 0;
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
    return this.put(columnRecordSize(c, i), null, c, i, BigInt(c.position[i]!), Number.isNaN(ts) ? null : ts);
  }

  /** Writes one record of `size` bytes: a prepared one, or record i of the columns. */
  private put(size: number, p: PreparedRecord | null, c: RecordColumns | null, i: number, position: bigint, timestamp: number | null): number {
    if (this.used > 0 && this.used + size > this.blockSize) this.seal();
    if (size <= this.blockSize - this.used) {
      this.ensureBlock();
      this.used = p ? writeRecord(p, this.block!, this.blockView!, this.used) : writeColumnRecord(c!, i, size, this.block!, this.blockView!, this.used);
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
        off += this.blockSize;
        this.seal();
        this.continues = true;
      }
      this.ensureBlock();
      this.block!.set(whole.subarray(off), 0);
      this.used = size - off;
    }
    this.blockRecords++;
    this.blockFirst ??= position;
    this.blockLast = position;
    this.records++;
    this.firstPosition ??= position;
    if (this.records === 1) this.firstTimestamp = timestamp;
    this.lastPosition = position;
    this.lastTimestamp = timestamp;
    if (this.used >= this.blockSize) this.seal();
    return size;
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
    const first = this.blockFirst ?? 0n;
    const last = this.blockLast ?? 0n;
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
    const block = (async () => {
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
      const prefix = encodeBlockPrefix({
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
      });
      return { prefix, frame, release };
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
    this.appended = this.appended.then(async () => {
      const b = await block;
      this.output.append(b.prefix);
      this.output.append(b.frame);
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
      throw e;
    }
    return this.output.take();
  }

  /** Seals the last block and returns the segment's bytes in one buffer. */
  async finish(): Promise<Uint8Array> {
    const s = await this.finishParts();
    const out = Buffer.concat(s.parts); // a copy: the parts go back for reuse
    s.release();
    return out;
  }
}
