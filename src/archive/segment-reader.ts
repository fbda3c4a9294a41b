/**
 * Reading segments (docs/FORMAT.md, "Segment layout"; the framing is segment-framing.ts): every
 * block header, length, CRC-32, record count and position is checked before a block's records
 * are handed out, as objects (decodeSegmentObjects) or as columns (decodeSegmentColumns).
 */
import { crc32 } from 'node:zlib';
import { MqbakError, messageOf } from '../common/errors.js';
import { ColumnsBuilder, type ArchiveRecord, type RecordColumns } from '../common/record.js';
import { utf8NameChecker } from '../common/utf8-names.js';
import type { BlockCodec } from './codec.js';
import { decodeRecordAt, decodeRecordColumns, scanRecords } from './record-decoder.js';
import { attributesCheck } from './attributes-check.js';
import { BLOCK_PREFIX_SIZE, checkSegmentHeader, decodeBlockHeader, FLAG_CONTINUES, integrity, SEALED_SEGMENT_VERSION, type BlockHeader } from './segment-framing.js';
import type { SegmentSealing } from './encryption/store-key.js';
import { openSegmentBlock } from './segment-sealing.js';
import { needsPassword } from './stored-manifest.js';

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
  sealing: SegmentSealing | null = null,
): AsyncGenerator<ArchiveRecord> {
  for await (const records of decodeSegmentBlocks(bytes, codec, context, summary, sealing)) yield* records;
}

interface PendingBlock {
  h: BlockHeader;
  where: string;
  raw: Promise<{ raw: Uint8Array; rawCrc: number | null }>;
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
  sealing: SegmentSealing | null = null,
): AsyncGenerator<ArchiveRecord[]> {
  for await (const b of decodeSegmentObjects(bytes, codec, context, summary, sealing)) yield b.records;
}

/**
 * decodeSegmentBlocks, with each block's first and last positions and timestamps. With
 * `expected` (the manifest's entry), the whole segment is framed and its block headers' counts
 * and positions compared with it before the first block is handed out.
 */
export function decodeSegmentObjects(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary = { blocks: 0, records: 0, rawBytes: 0 },
  sealing: SegmentSealing | null = null,
  expected: SegmentExpectation | null = null,
): AsyncGenerator<DecodedBlock<ArchiveRecord[]>> {
  return walkSegment(bytes, codec, context, summary, decodeObjects, sealing, expected);
}

/**
 * decodeSegmentBlocks, each block's records as columns over its raw bytes (no object per
 * record), with the same checks (and `expected` as in decodeSegmentObjects). Positions must be below 2^53 in magnitude (see
 * decodeRecordColumns). `inPlace`: the caller reads `bytes` no more, and a sealed segment's
 * blocks are opened over them instead of into a copy of the segment. `recheck` false: the caller
 * knows these very bytes passed every check before (CheckedSegments in src/core/backup-reader.ts):
 * the blocks' CRC-32s and the header names' UTF-8 are not checked again; everything a decode
 * needs to stay within its bytes (headers, lengths, record framing and bounds, positions), and a
 * sealed block's authentication, still is.
 */
export function decodeSegmentColumns(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary = { blocks: 0, records: 0, rawBytes: 0 },
  sealing: SegmentSealing | null = null,
  expected: SegmentExpectation | null = null,
  inPlace = false,
  recheck = true,
): AsyncGenerator<DecodedBlock<RecordColumns>> {
  const checkName = recheck ? utf8NameChecker() : () => true;
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
  return walkSegment(bytes, codec, context, summary, decode, sealing, expected, inPlace, recheck);
}

/**
 * decodeSegmentBlocks without handing out records: every check, and each block's record count and
 * first and last positions and timestamps, with no object or column per record (what verify
 * reads with; any 64-bit position).
 */
export function scanSegment(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary = { blocks: 0, records: 0, rawBytes: 0 },
  sealing: SegmentSealing | null = null,
): AsyncGenerator<DecodedBlock<null>> {
  const checkName = utf8NameChecker();
  // attributes parts alike from record to record are checked against the last one (attributes-check.ts)
  const checkAttributes = attributesCheck();
  const scan: RecordsDecoder<null> = (buf, lastPosition) => {
    const { next, ...found } = scanRecords(buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), checkName, lastPosition, checkAttributes);
    return { block: { records: null, ...found }, next };
  };
  return walkSegment(bytes, codec, context, summary, scan, sealing, null);
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

/**
 * What the manifest's segment entry states: with it, the block headers' record counts and
 * first and last positions are added up and compared before any record is handed out
 * (docs/FORMAT.md section 7, item 4), and a block that does not frame fails the segment then too.
 */
export interface SegmentExpectation {
  records: number;
  firstPosition: bigint;
  lastPosition: bigint;
}

interface FramedBlock {
  h: BlockHeader;
  where: string;
  frame: Uint8Array;
}

/**
 * Every block's header and frame of a segment, checked (header CRC, lengths, the compressed
 * CRC-32 or, sealed, the authentication tag): nothing is decompressed. Stops at the first block
 * that does not frame, returned as `error` after the blocks before it. `inPlace`: sealed blocks
 * are opened over `bytes`. `recheck` false: the compressed CRC-32 is not taken (decodeSegmentColumns).
 */
function frameBlocks(bytes: Uint8Array, at: number, version: number, context: string, sealing: SegmentSealing | null, inPlace: boolean, recheck: boolean): { blocks: FramedBlock[]; error: unknown } {
  const sealed = version === SEALED_SEGMENT_VERSION;
  const blocks: FramedBlock[] = [];
  for (let index = 0; at < bytes.length; index++) {
    try {
      const clear = decodeBlockHeader(bytes, at, context, index, version);
      const where = `block ${index} at byte ${at}`;
      const frameStart = at + BLOCK_PREFIX_SIZE;
      const frameEnd = frameStart + clear.compressedLength;
      if (frameEnd > bytes.length) throw integrity(context, `${where}: compressed length ${clear.compressedLength} runs past the end of the segment (truncated?)`);
      let h = clear;
      let frame = bytes.subarray(frameStart, frameEnd);
      if (sealed) ({ h, frame } = openSegmentBlock(sealing!, index, clear, bytes.subarray(at, frameStart), frame, context, where, inPlace));
      else if (recheck && crc32(frame) !== h.compressedCrc) throw integrity(context, `${where}: compressed data checksum mismatch`);
      blocks.push({ h, where, frame });
      at = frameEnd;
    } catch (e) {
      return { blocks, error: e };
    }
  }
  return { blocks, error: null };
}

/** Compares what the block headers add up to with the manifest's entry. */
function checkExpected(blocks: readonly FramedBlock[], expected: SegmentExpectation, context: string): void {
  let records = 0;
  let first: bigint | null = null;
  let last: bigint | null = null;
  for (const { h } of blocks) {
    records += h.records;
    if (h.records === 0) continue;
    first ??= h.firstPosition;
    last = h.lastPosition;
  }
  if (records !== expected.records) throw integrity(context, `its blocks hold ${records} records, manifest says ${expected.records}`);
  if (first !== expected.firstPosition || last !== expected.lastPosition) {
    throw integrity(context, `its blocks hold positions ${first ?? 'none'}..${last ?? 'none'}, manifest says ${expected.firstPosition}..${expected.lastPosition}`);
  }
}

async function* walkSegment<T>(
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: DecodedSegmentSummary,
  decode: RecordsDecoder<T>,
  sealing: SegmentSealing | null,
  expected: SegmentExpectation | null,
  inPlace = false,
  recheck = true,
): AsyncGenerator<DecodedBlock<T>> {
  const header = checkSegmentHeader(bytes, context);
  const sealed = header.version === SEALED_SEGMENT_VERSION;
  if (sealed && sealing === null) throw needsPassword(context);
  // a plaintext segment where blocks must be sealed could have been put there by anyone
  if (!sealed && sealing !== null) throw integrity(context, 'not sealed, in an encrypted store');
  const framed = frameBlocks(bytes, header.at, header.version, context, sealing, inPlace, recheck);
  if (expected !== null) {
    // nothing of a segment is handed out before it frames whole and adds up to its entry
    if (framed.error !== null) throw framed.error;
    checkExpected(framed.blocks, expected, context);
  }
  let carry: Uint8Array = new Uint8Array(0);
  let lastPosition: bigint | null = null;
  let index = 0;
  const queue: Array<PendingBlock | { error: unknown }> = [];
  // starts the next block's decompression (one ahead of the block being decoded)
  const startNext = (): void => {
    const b = framed.blocks[index];
    if (b === undefined) {
      // a block that does not frame is reported in order, after the blocks before it
      if (index === framed.blocks.length && framed.error !== null) queue.push({ error: framed.error });
      index++;
      return;
    }
    index++;
    const unpacked = codec.decompressBlock ? codec.decompressBlock(b.frame, b.h.rawLength) : codec.decompress(b.frame, b.h.rawLength).then((raw) => ({ raw, rawCrc: null }));
    const raw = unpacked.catch((e: unknown) => {
      throw integrity(context, `${b.where}: ${messageOf(e)}`);
    });
    raw.catch(() => {}); // surfaces when its turn comes (or never, if an earlier block fails)
    queue.push({ h: b.h, where: b.where, raw });
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
    const { raw, rawCrc } = await next.raw;
    if (raw.length !== h.rawLength) throw integrity(context, `${where}: decompressed to ${raw.length} bytes, header says ${h.rawLength}`);
    if (recheck && (rawCrc ?? crc32(raw)) !== h.rawCrc) throw integrity(context, `${where}: raw data checksum mismatch`);
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
      throw integrity(context, `${where}: ${messageOf(e)}`);
    }
    const { block, next: off } = decoded;
    carry = off === buf.length ? new Uint8Array(0) : buf.slice(off);
    // the records were read from the joined copy: nothing refers to the block's own bytes
    if (buf !== raw) codec.release?.(raw);
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
