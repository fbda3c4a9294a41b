/**
 * Sealed blocks (format 3, encrypted stores; docs/FORMAT.md 9.2). A sealed block keeps its
 * 56-byte block header frame in the clear, so that a reader walks the segment without the key,
 * but with the fields that tell about the content zeroed: the raw CRC-32 (it would confirm a
 * guessed plaintext), the compressed CRC-32 (the tag does its work), the record count and the
 * first and last positions (Kafka offsets). Those move inside the sealed bytes:
 *
 *   sealed plaintext := u32 raw CRC-32 | u32 records | i64 first position | i64 last position | zstd frame
 *   stored            := AES-256-GCM(segment subkey, nonce of the block's place,
 *                                    aad = block-seal.ts's, with the clear 56-byte header frame) || tag
 *
 * The clear header's compressed length is the stored length (plaintext + 16).
 */
import { blockAadHead, openBlock, sealBlock, BLOCK_SEAL_OVERHEAD } from './encryption/block-seal.js';
import { blockNonce } from './encryption/nonce.js';
import type { SegmentSealing } from './encryption/store-key.js';
import { ENCRYPTED_FORMAT_VERSION } from './manifest.js';
import { BLOCK_PREFIX_SIZE, encodeBlockPrefix, integrity, SEALED_SEGMENT_VERSION, type BlockHeader } from './segment-framing.js';

export const SEALED_INNER_HEADER = 24;

function place(s: SegmentSealing, blockIndex: number, header: Uint8Array) {
  return { streamIndex: s.streamIndex, segmentSeq: s.segmentSeq, blockIndex, formatVersion: ENCRYPTED_FORMAT_VERSION, header };
}

/** The clear header frame and the sealed bytes of block `blockIndex` (from 0) of a segment. */
export function sealSegmentBlock(s: SegmentSealing, blockIndex: number, h: BlockHeader, frame: Uint8Array): { prefix: Uint8Array; sealed: Uint8Array } {
  const prefix = encodeBlockPrefix({
    ...h,
    version: SEALED_SEGMENT_VERSION,
    compressedLength: SEALED_INNER_HEADER + frame.length + BLOCK_SEAL_OVERHEAD,
    rawCrc: 0,
    compressedCrc: 0,
    records: 0,
    firstPosition: 0n,
    lastPosition: 0n,
  });
  const inner = Buffer.allocUnsafe(SEALED_INNER_HEADER + frame.length);
  inner.set(innerHeader(h), 0);
  inner.set(frame, SEALED_INNER_HEADER);
  const sealed = sealBlock(s.keys, place(s, blockIndex, prefix), inner);
  return { prefix, sealed };
}

/**
 * Sealing where the block is compressed (a zstd worker, zstd-pool.ts), so that the main thread
 * neither encrypts nor copies the frame. Everything that does not depend on the compressed
 * bytes is made here, from the same functions as sealSegmentBlock (nonce, additional data, clear
 * header, inner header); the sealer then fills in what does, at the offsets of SEAL_LAYOUT:
 *
 *   buffer  := inner (raw CRC-32 at 0) | zstd frame | tag          (sealed in place)
 *   prefix  := clear header frame: compressed length = 24 + frame + 16 at 20, header CRC-32 of
 *              bytes 8..51 at 52 (segment-framing.ts's encodeBlockPrefix, docs/FORMAT.md 4.2)
 *   sealed  := AES-256-GCM(key, nonce, aad = aadHead | prefix, inner | frame) || tag
 *
 * The result is byte for byte sealSegmentBlock's (tested), so the nonce rule holds unchanged:
 * one job per block, made once, for the block's place.
 */
export interface BlockSealJob {
  /** the backup's 'segment' subkey */
  key: Buffer;
  /** blockNonce of the block's place */
  nonce: Uint8Array;
  /** blockAad up to the clear header frame */
  aadHead: Uint8Array;
  /** the clear header frame, compressed length and header CRC-32 still 0 */
  prefix: Uint8Array;
  /** the inner header, raw CRC-32 still 0 */
  inner: Uint8Array;
}

/** The offsets a sealer fills in (see BlockSealJob); plain numbers, for a worker's source. */
export const SEAL_LAYOUT = Object.freeze({
  inner: SEALED_INNER_HEADER,
  innerRawCrcAt: 0,
  prefixLengthAt: 8 + 12,
  prefixCrcFrom: 8,
  prefixCrcAt: BLOCK_PREFIX_SIZE - 4,
  tag: BLOCK_SEAL_OVERHEAD,
});

/** The seal job of block `blockIndex` (from 0) of a segment; `h`'s lengths and CRCs are not read. */
export function blockSealJob(s: SegmentSealing, blockIndex: number, h: BlockHeader): BlockSealJob {
  const at = { streamIndex: s.streamIndex, segmentSeq: s.segmentSeq, blockIndex, formatVersion: ENCRYPTED_FORMAT_VERSION };
  const nonce = blockNonce(at); // refuses a place outside its fields before anything is sealed
  const prefix = encodeBlockPrefix({ ...h, version: SEALED_SEGMENT_VERSION, compressedLength: 0, rawCrc: 0, compressedCrc: 0, records: 0, firstPosition: 0n, lastPosition: 0n });
  return { key: s.keys.segment, nonce, aadHead: blockAadHead(s.keys.backupId, at, BLOCK_PREFIX_SIZE), prefix, inner: innerHeader({ ...h, rawCrc: 0 }) };
}

function innerHeader(h: BlockHeader): Buffer {
  const inner = Buffer.allocUnsafe(SEALED_INNER_HEADER);
  inner.writeUInt32LE(h.rawCrc, 0);
  inner.writeUInt32LE(h.records, 4);
  inner.writeBigInt64LE(h.firstPosition, 8);
  inner.writeBigInt64LE(h.lastPosition, 16);
  return inner;
}

/**
 * The full block header and the zstd frame of a sealed block. `clear` is its decoded clear header,
 * `prefix` the 56 bytes it was decoded from. A tag that does not verify: 'integrity', naming the
 * segment (`context`) and the block (`where`). `inPlace`: opened over the sealed bytes (gcmOpen).
 */
export function openSegmentBlock(
  s: SegmentSealing,
  blockIndex: number,
  clear: BlockHeader,
  prefix: Uint8Array,
  sealed: Uint8Array,
  context: string,
  where: string,
  inPlace = false,
): { h: BlockHeader; frame: Uint8Array } {
  if (clear.rawCrc !== 0 || clear.compressedCrc !== 0 || clear.records !== 0 || clear.firstPosition !== 0n || clear.lastPosition !== 0n) {
    throw integrity(context, `${where}: a sealed block's header shows fields that must be zero`);
  }
  let inner: Uint8Array;
  try {
    inner = openBlock(s.keys, place(s, blockIndex, prefix), sealed, inPlace);
  } catch (e) {
    throw integrity(context, `${where}: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (inner.length < SEALED_INNER_HEADER) throw integrity(context, `${where}: sealed block shorter than its inner header`);
  const b = Buffer.from(inner.buffer, inner.byteOffset, inner.byteLength);
  const h: BlockHeader = {
    ...clear,
    rawCrc: b.readUInt32LE(0),
    records: b.readUInt32LE(4),
    firstPosition: b.readBigInt64LE(8),
    lastPosition: b.readBigInt64LE(16),
  };
  return { h, frame: inner.subarray(SEALED_INNER_HEADER) };
}

