/**
 * Per-backup subkeys: nothing is encrypted with the master key itself. Each backup gets one key
 * per purpose, derived with HKDF-SHA256 (RFC 5869) from the master key:
 *
 *   K(backup, purpose) = HKDF-SHA256(IKM = master key, salt = empty,
 *                                    info = "mqbak subkey v1" 0x00 purpose 0x00 backup-id, L = 32)
 *
 * The master key is 32 uniformly random bytes, so HKDF needs no salt (RFC 5869, 3.1); the whole
 * context goes into `info`, with 0x00 separators that neither a purpose nor a backup id can hold,
 * so two different (purpose, backup id) pairs never give the same `info`. A key per backup keeps
 * the nonces of different backups apart (src/archive/encryption/nonce.ts) and a key per purpose
 * keeps a block and a manifest of one backup from ever sharing a (key, nonce) pair.
 */
import { hkdfSync } from 'node:crypto';
import { MqbakError } from '../../common/errors.js';
import { KEY_LENGTH } from './aead.js';

/** What a subkey seals. A new kind of encrypted object gets a new purpose, never an old one. */
export type SubkeyPurpose = 'segment' | 'manifest';

const INFO_PREFIX = 'mqbak subkey v1';
// printable ASCII without spaces: what backup ids are (src/archive/keys.ts), and never a 0x00
const BACKUP_ID_CHARS = /^[\x21-\x7e]{1,255}$/;

export function checkBackupIdForKeys(backupId: string): void {
  if (!BACKUP_ID_CHARS.test(backupId)) {
    throw new MqbakError('internal', `backup id ${JSON.stringify(backupId)} cannot name encryption keys (1 to 255 printable ASCII characters)`);
  }
}

/** The HKDF `info` of a subkey (exported for the test vectors and docs/ENCRYPTION.md). */
export function subkeyInfo(backupId: string, purpose: SubkeyPurpose): Buffer {
  checkBackupIdForKeys(backupId);
  return Buffer.from(`${INFO_PREFIX}\0${purpose}\0${backupId}`, 'ascii');
}

export function deriveSubkey(masterKey: Uint8Array, backupId: string, purpose: SubkeyPurpose): Buffer {
  if (masterKey.length !== KEY_LENGTH) throw new MqbakError('internal', `master key must be ${KEY_LENGTH} bytes`);
  return Buffer.from(hkdfSync('sha256', masterKey, new Uint8Array(0), subkeyInfo(backupId, purpose), KEY_LENGTH));
}

/** The keys of one backup, derived once when the backup is written or read. */
export interface BackupKeys {
  readonly backupId: string;
  readonly segment: Buffer;
  readonly manifest: Buffer;
}

export function deriveBackupKeys(masterKey: Uint8Array, backupId: string): BackupKeys {
  return {
    backupId,
    segment: deriveSubkey(masterKey, backupId, 'segment'),
    manifest: deriveSubkey(masterKey, backupId, 'manifest'),
  };
}

/** Overwrites the keys once a backup is done with (best effort: the garbage collector may have copies). */
export function forgetBackupKeys(keys: BackupKeys): void {
  keys.segment.fill(0);
  keys.manifest.fill(0);
}
