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
import { openBlock, sealBlock, BLOCK_SEAL_OVERHEAD } from './encryption/block-seal.js';
import type { SegmentSealing } from './encryption/store-key.js';
import { ENCRYPTED_FORMAT_VERSION } from './manifest.js';
import { encodeBlockPrefix, integrity, SEALED_SEGMENT_VERSION, type BlockHeader } from './segment-framing.js';

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
  inner.writeUInt32LE(h.rawCrc, 0);
  inner.writeUInt32LE(h.records, 4);
  inner.writeBigInt64LE(h.firstPosition, 8);
  inner.writeBigInt64LE(h.lastPosition, 16);
  inner.set(frame, SEALED_INNER_HEADER);
  const sealed = sealBlock(s.keys, place(s, blockIndex, prefix), inner);
  return { prefix, sealed };
}

/**
 * The full block header and the zstd frame of a sealed block. `clear` is its decoded clear header,
 * `prefix` the 56 bytes it was decoded from. A tag that does not verify: 'integrity', naming the
 * segment (`context`) and the block (`where`).
 */
export function openSegmentBlock(
  s: SegmentSealing,
  blockIndex: number,
  clear: BlockHeader,
  prefix: Uint8Array,
  sealed: Uint8Array,
  context: string,
  where: string,
): { h: BlockHeader; frame: Uint8Array } {
  if (clear.rawCrc !== 0 || clear.compressedCrc !== 0 || clear.records !== 0 || clear.firstPosition !== 0n || clear.lastPosition !== 0n) {
    throw integrity(context, `${where}: a sealed block's header shows fields that must be zero`);
  }
  let inner: Uint8Array;
  try {
    inner = openBlock(s.keys, place(s, blockIndex, prefix), sealed);
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

