/**
 * The key files of one store taken together: where they live, opening the store with a
 * password (try each file until one opens), and the rule that the last key is never removed.
 * Pure over bytes: the caller lists and reads the objects.
 *
 * Object keys: `keys/<id>.json`, one per password, beside `manifests/` and `segments/`. A store
 * is encrypted exactly when `keys/` holds at least one key file.
 */
import { MqbakError } from '../../common/errors.js';
import { openKeyFile, readKeyFileInfo, type KeyFileInfo } from './key-file.js';

export const KEYS_PREFIX = 'keys/';

export function keyFileKey(id: string): string {
  return `${KEYS_PREFIX}${id}.json`;
}

/** The key id of a key file's object key, or null when the key is not one. */
export function idOfKeyFileKey(key: string): string | null {
  const m = /^keys\/([0-9a-f]{8})\.json$/.exec(key);
  return m ? m[1]! : null;
}

export interface StoredKeyFile {
  /** the object key, for messages */
  key: string;
  bytes: Uint8Array;
}

export interface Unlocked {
  masterKey: Buffer;
  /** the key file the password opened */
  keyId: string;
  /** key files found damaged on the way (the caller may warn; verify reports them) */
  damaged: Array<{ key: string; error: MqbakError }>;
}

/**
 * The master key, from the first key file `password` opens. Damaged key files are skipped and
 * reported; a password that opens none is one usage line; a store whose key files are all
 * damaged is 'integrity'. Each file tried costs one scrypt derivation.
 */
export async function unlockMasterKey(files: StoredKeyFile[], password: Uint8Array): Promise<Unlocked> {
  if (files.length === 0) throw new MqbakError('internal', 'unlockMasterKey: the store has no key files (it is not encrypted)');
  const damaged: Unlocked['damaged'] = [];
  let tried = 0;
  for (const f of files) {
    try {
      const masterKey = await openKeyFile(f.bytes, password);
      return { masterKey, keyId: readKeyFileInfo(f.bytes).id, damaged };
    } catch (e) {
      if (!(e instanceof MqbakError)) throw e;
      if (e.code === 'usage') tried++;
      else damaged.push({ key: f.key, error: e });
    }
  }
  if (tried === 0) {
    throw new MqbakError('integrity', `every key file of this store is damaged or unreadable (${damaged.map((d) => d.key).join(', ')})`, {
      hint: 'without an intact key file the data cannot be decrypted; restore keys/ from a copy if you have one',
    });
  }
  const message = tried === 1 ? 'wrong password for this store' : `wrong password: it opens none of the ${tried} keys of this store`;
  // the password may be right and its key file the damaged one: say so rather than only "wrong"
  const hint = damaged.length === 0 ? undefined : `damaged key file${damaged.length === 1 ? '' : 's'} skipped: ${damaged.map((d) => d.key).join(', ')} (mqbak key list shows why)`;
  throw new MqbakError('usage', message, { hint });
}

/** The info of every intact key file (key list), and the damaged ones apart. */
export function listKeyFiles(files: StoredKeyFile[]): { keys: Array<KeyFileInfo & { key: string }>; damaged: Array<{ key: string; error: MqbakError }> } {
  const keys: Array<KeyFileInfo & { key: string }> = [];
  const damaged: Array<{ key: string; error: MqbakError }> = [];
  for (const f of files) {
    try {
      keys.push({ key: f.key, ...readKeyFileInfo(f.bytes) });
    } catch (e) {
      if (!(e instanceof MqbakError)) throw e;
      damaged.push({ key: f.key, error: e });
    }
  }
  keys.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.id < b.id ? -1 : 1));
  return { keys, damaged };
}

/**
 * `key remove <id>`: refused when `id` is not a key of the store, or when it is the last intact
 * one (the data would be lost with it). The caller should also refuse removing the key the
 * current password opened unless told to, so that the user proves another password works first.
 */
export function checkKeyRemoval(intactIds: string[], id: string): void {
  if (!intactIds.includes(id)) throw new MqbakError('not-found', `no key ${id} in this store`, { hint: 'mqbak key list shows the keys' });
  if (intactIds.length === 1) {
    throw new MqbakError('usage', `key ${id} is the last key of this store: removing it would make every backup unreadable`, {
      hint: 'add another key first (mqbak key add)',
    });
  }
}
