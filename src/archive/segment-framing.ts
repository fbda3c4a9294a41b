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
 * decompresses a truncated frame without an error. A record longer than a block is split over
 * consecutive blocks; a block counts the records that END in it.
 *
 * This file is the framing: the constants and the segment and block headers. segment-reader.ts
 * decodes segments, segment-builder.ts writes them, buffer-pools.ts lends them memory.
 */
import { crc32 } from 'node:zlib';
import { MqbakError } from '../common/errors.js';

/** The segment and block layout of unencrypted stores. */
export const SEGMENT_VERSION = 1;
/** Sealed blocks (encrypted stores, format 3; docs/FORMAT.md 9.2). The newest layout this mqbak reads. */
export const SEALED_SEGMENT_VERSION = 2;
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

export function encodeSegmentHeader(version: number = SEGMENT_VERSION): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, SKIPPABLE_MAGIC, true);
  dv.setUint32(4, 8, true);
  out.set(ascii(SEGMENT_MAGIC), 8);
  dv.setUint16(12, version, true);
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

/** An 'integrity' error about the segment `context` names. */
export function integrity(context: string, message: string): MqbakError {
  return new MqbakError('integrity', `${context}: ${message}`);
}

/**
 * Reads and checks the block header (with its skippable frame) at `at`; its version must be the
 * segment's (`segmentVersion`).
 */
export function decodeBlockHeader(bytes: Uint8Array, at: number, context: string, index: number, segmentVersion: number = SEGMENT_VERSION): BlockHeader {
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
  if (h.version > SEALED_SEGMENT_VERSION) {
    throw new MqbakError('unsupported', `${context}: ${where}: block format version ${h.version} is newer than this mqbak knows (${SEALED_SEGMENT_VERSION})`, {
      hint: 'upgrade mqbak to read this archive',
    });
  }
  if (h.version !== segmentVersion) throw integrity(context, `${where}: bad block version ${h.version}`);
  if (h.codec !== CODEC_ZSTD) throw integrity(context, `${where}: unknown codec ${h.codec}`);
  if ((h.flags & ~FLAG_CONTINUES) !== 0) throw integrity(context, `${where}: unknown flags ${h.flags}`);
  if (h.rawLength === 0) throw integrity(context, `${where}: empty block`);
  return h;
}

/** Checks the segment header; returns the offset of the first block and the segment's version. */
export function checkSegmentHeader(bytes: Uint8Array, context: string): { at: number; version: number } {
  if (bytes.length < SEGMENT_HEADER_SIZE) throw integrity(context, `${bytes.length} bytes: shorter than a segment header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== SKIPPABLE_MAGIC || dv.getUint32(4, true) !== 8 || String.fromCharCode(...bytes.subarray(8, 12)) !== SEGMENT_MAGIC) {
    throw integrity(context, 'not an mqbak segment (bad header)');
  }
  const version = dv.getUint16(12, true);
  if (version > SEALED_SEGMENT_VERSION) {
    throw new MqbakError('unsupported', `${context}: segment format version ${version} is newer than this mqbak knows (${SEALED_SEGMENT_VERSION})`, {
      hint: 'upgrade mqbak to read this archive',
    });
  }
  if (version < SEGMENT_VERSION || dv.getUint16(14, true) !== 0) throw integrity(context, `bad segment header version ${version}`);
  return { at: SEGMENT_HEADER_SIZE, version };
}
