/**
 * Block nonces, and why no (key, nonce) pair is ever used twice for different plaintexts: with
 * AES-GCM that would reveal the XOR of the two plaintexts and let an attacker forge tags.
 *
 * Nonces are not random and not stored: a block's 96-bit nonce is the fixed-width little-endian
 * encoding of where the block sits in its backup,
 *
 *   bytes 0..2   stream index    (u24, < 2^24)
 *   bytes 3..7   segment seq     (u40, < 2^40; segment keys have ten decimal digits, < 2^34)
 *   bytes 8..11  block index     (u32, < 2^32; the block's number within its segment, from 0)
 *
 * and it is used under the backup's 'segment' subkey (subkeys.ts). The manifest is sealed once
 * under the backup's 'manifest' subkey with the all-zero nonce.
 *
 * The argument, precisely:
 * 1. Fixed-width fields make the encoding injective on its domain, and blockNonce() refuses any
 *    value outside it (no truncation, no wrap-around). So two blocks of one backup with
 *    different places (stream, seq, block) have different nonces.
 * 2. A place is sealed at most once with a given content: a backup id is made once, by one
 *    writer run (UTC time to the millisecond plus 24 random bits; segments and the manifest
 *    are write-once objects); within it a stream index names one stream, a seq one segment of
 *    that stream and a block index one block of that segment. Sealing the same bytes at the same
 *    place again (an upload retried with the bytes already sealed) produces the same ciphertext
 *    and reveals nothing new.
 * 3. Different backups, or the same backup with a different purpose, use different keys:
 *    HKDF-SHA256 outputs for different `info` collide with probability about q^2 / 2^257 over q
 *    derivations, which is nil.
 * 4. Hence a (key, nonce) pair repeats with different plaintexts only if a writer breaks 2:
 *    re-seals a place with different bytes, or reuses a backup id. The writer's obligations
 *    follow: a new backup id per run, never resumed by another process; each block sealed once,
 *    retries resend the sealed bytes. Residual risk: two runs started in the same millisecond,
 *    with the same master key, draw the same 24 random bits with probability 2^-24 per pair;
 *    the write-once store then refuses the second run's first object where the store enforces
 *    write-once (the local store does; an S3 endpoint without conditional writes may not).
 *
 * GCM's limits are far away: at most 2^32 blocks per segment of at most 4 MiB each, and the
 * 2^32-invocation bound of NIST SP 800-38D applies to random nonces, not to these.
 */
import { MqbakError } from '../../common/errors.js';
import { NONCE_LENGTH } from './aead.js';

export const MAX_STREAM_INDEX = 2 ** 24 - 1;
export const MAX_SEGMENT_SEQ = 2 ** 40 - 1;
export const MAX_BLOCK_INDEX = 2 ** 32 - 1;

/** Where a block sits in its backup: what its nonce and its additional data are made of. */
export interface BlockPlace {
  streamIndex: number;
  segmentSeq: number;
  blockIndex: number;
}

function field(name: string, v: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < 0 || v > max) {
    // a writer never makes such a place; a reader gets places from a validated manifest
    throw new MqbakError('internal', `${name} ${v} is outside 0..${max}: no block nonce for it`);
  }
  return v;
}

export function blockNonce(place: BlockPlace): Buffer {
  const s = field('stream index', place.streamIndex, MAX_STREAM_INDEX);
  const q = field('segment seq', place.segmentSeq, MAX_SEGMENT_SEQ);
  const i = field('block index', place.blockIndex, MAX_BLOCK_INDEX);
  const n = Buffer.alloc(NONCE_LENGTH);
  n.writeUIntLE(s, 0, 3);
  n.writeUIntLE(q, 3, 5);
  n.writeUInt32LE(i, 8);
  return n;
}

/** The nonce of the one manifest sealed under a backup's 'manifest' subkey. */
export function manifestNonce(): Buffer {
  return Buffer.alloc(NONCE_LENGTH);
}
