/**
 * Sealing a manifest: stream names, topic and queue names, group ids, broker definitions and
 * counts are data too, so the whole stored manifest (its canonical JSON, checksum included) is
 * encrypted under the backup's 'manifest' subkey. A backup has one manifest, written once, so
 * the nonce is the fixed all-zero one (nonce.ts explains why that never repeats under a key).
 *
 * Stored form (all integers little-endian):
 *
 *   0   4  ASCII "MQEM"
 *   4   2  u16 archive format version
 *   6   2  u16 reserved, 0
 *   8      ciphertext || tag (16 bytes): the manifest bytes, sealed
 *
 * The version stays in the clear so that a reader can refuse a newer format ('unsupported')
 * before it needs any key. Additional authenticated data: the 8 header bytes, then u8 n, the
 * backup id (n bytes ASCII) and ASCII "manifest": a manifest renamed to another backup's key
 * fails to open. A parent's SHA-256 in an incremental's manifest is taken over these stored
 * (sealed) bytes, as over a plaintext manifest's.
 */
import { MqbakError } from '../../common/errors.js';
import { gcmOpen, gcmSeal, TAG_LENGTH } from './aead.js';
import { manifestNonce } from './nonce.js';
import { checkBackupIdForKeys, type BackupKeys } from './subkeys.js';

export const MANIFEST_ENVELOPE_MAGIC = 'MQEM';
export const MANIFEST_ENVELOPE_HEADER = 8;

function envelopeHeader(formatVersion: number): Buffer {
  const h = Buffer.alloc(MANIFEST_ENVELOPE_HEADER);
  h.write(MANIFEST_ENVELOPE_MAGIC, 0, 'ascii');
  h.writeUInt16LE(formatVersion, 4);
  return h;
}

export function manifestAad(backupId: string, header: Uint8Array): Buffer {
  checkBackupIdForKeys(backupId);
  return Buffer.concat([header, Buffer.from([backupId.length]), Buffer.from(backupId, 'ascii'), Buffer.from('manifest', 'ascii')]);
}

/** True when `bytes` start like a sealed manifest (a plaintext manifest starts with "{"). */
export function isSealedManifest(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString('latin1') === MANIFEST_ENVELOPE_MAGIC;
}

export function sealManifest(keys: BackupKeys, formatVersion: number, manifestBytes: Uint8Array): Uint8Array {
  const header = envelopeHeader(formatVersion);
  const sealed = gcmSeal(keys.manifest, manifestNonce(), manifestAad(keys.backupId, header), manifestBytes);
  return Buffer.concat([header, sealed]);
}

/**
 * The manifest bytes of a sealed manifest, and the format version its envelope states. Versions
 * newer than `newestVersion`: 'unsupported'; a damaged envelope or a tag that does not verify:
 * 'integrity'.
 */
export function openManifest(keys: BackupKeys, stored: Uint8Array, newestVersion: number): { formatVersion: number; bytes: Uint8Array } {
  const b = Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength);
  if (b.length < MANIFEST_ENVELOPE_HEADER + TAG_LENGTH || !isSealedManifest(b)) {
    throw new MqbakError('integrity', `manifest of backup ${keys.backupId} is not a sealed manifest`);
  }
  const formatVersion = b.readUInt16LE(4);
  if (formatVersion > newestVersion) {
    throw new MqbakError('unsupported', `manifest of backup ${keys.backupId} has format version ${formatVersion}, newer than this mqbak knows (${newestVersion})`, {
      hint: 'upgrade mqbak',
    });
  }
  if (b.readUInt16LE(6) !== 0) throw new MqbakError('integrity', `manifest of backup ${keys.backupId}: reserved envelope bytes are not 0`);
  const header = b.subarray(0, MANIFEST_ENVELOPE_HEADER);
  const plain = gcmOpen(keys.manifest, manifestNonce(), manifestAad(keys.backupId, header), b.subarray(MANIFEST_ENVELOPE_HEADER));
  if (plain === null) {
    throw new MqbakError('integrity', `manifest of backup ${keys.backupId} failed authentication: changed, renamed, or sealed with another key`);
  }
  return { formatVersion, bytes: plain };
}
