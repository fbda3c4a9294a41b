/**
 * Sealing one compressed block: AES-256-GCM under the backup's 'segment' subkey, with the nonce
 * of the block's place (nonce.ts) and additional authenticated data naming that place, so a
 * block copied to another backup, stream, segment or position fails to open, as does one whose
 * clear header was edited. Compress, then seal: ciphertext does not compress.
 *
 * Stored: `ciphertext || tag`, 16 bytes longer than the compressed block. The nonce is not
 * stored: the reader knows the place.
 *
 * Additional authenticated data (all integers little-endian):
 *
 *   0        4  ASCII "MQEB"
 *   4        2  u16 archive format version of the segment
 *   6        1  u8 n: length of the backup id
 *   7        n  backup id, ASCII
 *   7+n      4  u32 stream index
 *   11+n     8  u64 segment seq
 *   19+n     4  u32 block index
 *   23+n     4  u32 h: length of the block's clear header (0 when the caller passes none)
 *   27+n     h  the clear header bytes, exactly as stored
 */
import { MqbakError } from '../../common/errors.js';
import { gcmOpen, gcmSeal, TAG_LENGTH } from './aead.js';
import { blockNonce, type BlockPlace } from './nonce.js';
import { checkBackupIdForKeys, type BackupKeys } from './subkeys.js';

export const BLOCK_AAD_MAGIC = 'MQEB';
export const BLOCK_SEAL_OVERHEAD = TAG_LENGTH;

export interface SealedBlockContext extends BlockPlace {
  /** the archive format version the segment's headers carry */
  formatVersion: number;
  /** the block's header as stored in the clear before the sealed bytes, if any: authenticated too */
  header?: Uint8Array;
}

export function blockAad(backupId: string, ctx: SealedBlockContext): Buffer {
  const header = ctx.header ?? new Uint8Array(0);
  const head = blockAadHead(backupId, ctx, header.length);
  const aad = Buffer.allocUnsafe(head.length + header.length);
  aad.set(head, 0);
  aad.set(header, head.length);
  return aad;
}

/**
 * The additional data up to the clear header (27 + n bytes, `headerLength` in its last field):
 * for a sealer that learns the header's bytes only once the block is compressed (zstd-pool.ts).
 */
export function blockAadHead(backupId: string, ctx: BlockPlace & { formatVersion: number }, headerLength: number): Buffer {
  checkBackupIdForKeys(backupId);
  const n = backupId.length;
  const head = Buffer.alloc(27 + n);
  head.write(BLOCK_AAD_MAGIC, 0, 'ascii');
  head.writeUInt16LE(ctx.formatVersion, 4);
  head.writeUInt8(n, 6);
  head.write(backupId, 7, 'ascii');
  head.writeUInt32LE(ctx.streamIndex, 7 + n);
  head.writeBigUInt64LE(BigInt(ctx.segmentSeq), 11 + n);
  head.writeUInt32LE(ctx.blockIndex, 19 + n);
  head.writeUInt32LE(headerLength, 23 + n);
  return head;
}

function where(ctx: BlockPlace): string {
  return `block ${ctx.blockIndex} (stream ${ctx.streamIndex}, segment ${ctx.segmentSeq})`;
}

/** `compressed` sealed for its place: ciphertext || tag. */
export function sealBlock(keys: BackupKeys, ctx: SealedBlockContext, compressed: Uint8Array): Uint8Array {
  // the nonce first: it refuses a place outside its fields before anything is encrypted
  const nonce = blockNonce(ctx);
  return gcmSeal(keys.segment, nonce, blockAad(keys.backupId, ctx), compressed);
}

/**
 * The compressed block sealed at this place. A tag that does not verify (changed bytes, a block
 * from elsewhere, another store's key) is MqbakError 'integrity': a verify finding like a CRC
 * mismatch. Callers add the segment's key in front ("segment <key>: "). `inPlace`: see gcmOpen.
 */
export function openBlock(keys: BackupKeys, ctx: SealedBlockContext, sealed: Uint8Array, inPlace = false): Uint8Array {
  const nonce = blockNonce(ctx);
  if (sealed.length < TAG_LENGTH) {
    throw new MqbakError('integrity', `${where(ctx)} of backup ${keys.backupId} is ${sealed.length} bytes, shorter than its ${TAG_LENGTH}-byte tag`);
  }
  const plain = gcmOpen(keys.segment, nonce, blockAad(keys.backupId, ctx), sealed, inPlace);
  if (plain === null) {
    throw new MqbakError('integrity', `${where(ctx)} of backup ${keys.backupId} failed authentication: changed, moved, or sealed with another key`);
  }
  return plain;
}
