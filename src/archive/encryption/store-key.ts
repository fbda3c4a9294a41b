/**
 * The master key of an opened encrypted store, kept beside the store object itself: the CLI
 * unlocks the store once when it opens it (src/cli/store.ts), and every reader and writer of
 * that store then seals and opens with it without a new parameter on each pipeline. A store
 * object without a key attached is either not encrypted or was opened without its password;
 * readers and writers find out from the store's contents (sealed manifests, key files) and
 * refuse rather than write plaintext or guess.
 *
 * Also: where a segment's blocks are sealed (its backup id, stream index and seq), read from
 * the segment's object key, which is the place the nonces and additional data are built from.
 */
import { MqbakError } from '../../common/errors.js';
import { deriveBackupKeys, type BackupKeys } from './subkeys.js';

const keys = new WeakMap<object, Buffer>();

/** Attaches the unlocked master key to an opened store (the store owns a copy). */
export function attachMasterKey(store: object, masterKey: Uint8Array): void {
  keys.set(store, Buffer.from(masterKey));
}

/** The master key attached to `store`, or null. */
export function masterKeyOf(store: object): Buffer | null {
  return keys.get(store) ?? null;
}

/** Where a segment's blocks are sealed: its backup's keys, stream index and seq. */
export interface SegmentSealing {
  keys: BackupKeys;
  streamIndex: number;
  segmentSeq: number;
}

const SEGMENT_KEY_RE = /^segments\/([^/]+)\/(\d{4})\/(\d{10})\.seg$/;

/** The sealing of the segment stored at `key`, under `masterKey`. */
export function segmentSealing(masterKey: Uint8Array, key: string): SegmentSealing {
  const m = SEGMENT_KEY_RE.exec(key);
  if (!m) throw new MqbakError('integrity', `segment ${key}: not a segment key, so no place to open its blocks at`);
  return { keys: deriveBackupKeys(masterKey, m[1]!), streamIndex: Number(m[2]), segmentSeq: Number(m[3]) };
}
