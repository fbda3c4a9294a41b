/**
 * The key files of a store as the `mqbak key` commands manage them: making a store encrypted,
 * adding, listing, removing and re-wrapping keys. Only `keys/` is ever written here: no segment
 * or manifest is read or rewritten, so changing passwords never touches the data.
 *
 * Passwords arrive as bytes from the CLI (src/cli/password.ts); nothing here asks for one.
 */
import { MqbakError } from '../common/errors.js';
import { MANIFESTS_PREFIX, SEGMENTS_PREFIX } from '../archive/keys.js';
import { createKeyFile, type KeyFileInfo } from '../archive/encryption/key-file.js';
import type { ScryptParams } from '../archive/encryption/kdf.js';
import {
  checkKeyRemoval,
  idOfKeyFileKey,
  keyFileKey,
  KEYS_PREFIX,
  listKeyFiles,
  unlockMasterKey,
  type StoredKeyFile,
  type Unlocked,
} from '../archive/encryption/key-ring.js';
import type { Store } from '../stores/store.js';

export interface NewKeyOptions {
  /** scrypt cost of the new key file (default: the project's, docs/ENCRYPTION.md section 3) */
  params?: ScryptParams | undefined;
  description?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Every object under keys/ that names a key file, with its bytes. */
export async function readKeyFiles(store: Store, signal?: AbortSignal): Promise<StoredKeyFile[]> {
  const files: StoredKeyFile[] = [];
  for await (const o of store.list(KEYS_PREFIX, { signal })) {
    if (idOfKeyFileKey(o.key) === null) continue;
    files.push({ key: o.key, bytes: await store.get(o.key, { signal }) });
  }
  return files;
}

/** True when the store is encrypted: it holds at least one key file. */
export async function isEncryptedStore(store: Store, signal?: AbortSignal): Promise<boolean> {
  for await (const o of store.list(KEYS_PREFIX, { signal })) {
    if (idOfKeyFileKey(o.key) !== null) return true;
  }
  return false;
}

async function hasAny(store: Store, prefix: string, signal?: AbortSignal): Promise<boolean> {
  for await (const _ of store.list(prefix, { signal })) return true;
  return false;
}

/** The master key `password` opens, or the one-line wrong-password error (usage, exit 2). */
export async function unlockStore(store: Store, password: Uint8Array, signal?: AbortSignal): Promise<Unlocked> {
  const files = await readKeyFiles(store, signal);
  if (files.length === 0) throw new MqbakError('usage', `store ${store.description} is not encrypted`, { hint: 'mqbak key init makes a new store encrypted' });
  return unlockMasterKey(files, password);
}

/**
 * `key init`: a new master key wrapped by `password`, in the store's first key file. Refused
 * when the store has keys already, and when it holds backups or segments: those are plaintext,
 * and a store is either wholly encrypted or not at all.
 */
export async function initStoreKeys(store: Store, password: Uint8Array, options: NewKeyOptions = {}): Promise<KeyFileInfo> {
  const { signal } = options;
  if (await isEncryptedStore(store, signal)) {
    throw new MqbakError('usage', `store ${store.description} is already encrypted`, { hint: 'mqbak key add adds another password' });
  }
  if ((await hasAny(store, MANIFESTS_PREFIX, signal)) || (await hasAny(store, SEGMENTS_PREFIX, signal))) {
    throw new MqbakError('usage', `store ${store.description} already holds unencrypted backups: it cannot become encrypted`, {
      hint: 'make a new, empty store with mqbak key init and back up into it',
    });
  }
  const created = await createKeyFile(password, { params: options.params, description: options.description });
  try {
    await store.put(keyFileKey(created.id), created.file, { signal });
  } finally {
    created.masterKey.fill(0);
  }
  return infoOf(created.file);
}

function infoOf(file: Uint8Array): KeyFileInfo {
  const listed = listKeyFiles([{ key: '', bytes: file }]).keys[0];
  if (listed === undefined) throw new MqbakError('internal', 'a key file just made does not read back');
  const { key: _, ...info } = listed;
  return info;
}

/** `key add`: one more key file wrapping the same master key under `newPassword`. */
export async function addStoreKey(store: Store, password: Uint8Array, newPassword: Uint8Array, options: NewKeyOptions = {}): Promise<KeyFileInfo> {
  const unlocked = await unlockStore(store, password, options.signal);
  try {
    const created = await createKeyFile(newPassword, { params: options.params, description: options.description, masterKey: unlocked.masterKey });
    created.masterKey.fill(0);
    await store.put(keyFileKey(created.id), created.file, { signal: options.signal });
    return infoOf(created.file);
  } finally {
    unlocked.masterKey.fill(0);
  }
}

/** `key list`: the intact key files, oldest first, and the damaged ones apart. No password needed. */
export async function listStoreKeys(store: Store, signal?: AbortSignal): Promise<ReturnType<typeof listKeyFiles>> {
  const files = await readKeyFiles(store, signal);
  if (files.length === 0) throw new MqbakError('usage', `store ${store.description} is not encrypted`, { hint: 'mqbak key init makes a new store encrypted' });
  return listKeyFiles(files);
}

/**
 * `key remove <id>`: needs a password of the store (whoever removes a key proves they hold
 * another), and refuses to remove the key that password opened, so that a working password is
 * always left behind, and the last key.
 */
export async function removeStoreKey(store: Store, password: Uint8Array, id: string, signal?: AbortSignal): Promise<void> {
  const files = await readKeyFiles(store, signal);
  if (files.length === 0) throw new MqbakError('usage', `store ${store.description} is not encrypted`);
  const intact = listKeyFiles(files).keys.map((k) => k.id);
  checkKeyRemoval(intact, id);
  const unlocked = await unlockMasterKey(files, password);
  unlocked.masterKey.fill(0);
  if (unlocked.keyId === id) {
    throw new MqbakError('usage', `key ${id} is the one this password opens: give the password of another key to remove it`, {
      hint: 'to change this password instead, use mqbak key passwd',
    });
  }
  await store.delete(keyFileKey(id), { signal });
}

/**
 * `key passwd`: the key file `password` opens is replaced by a new one (new id, salt and nonce)
 * wrapping the same master key under `newPassword`. The new file is stored before the old one is
 * deleted, so an interruption leaves both passwords working, never neither.
 */
export async function changeStorePassword(
  store: Store,
  password: Uint8Array,
  newPassword: Uint8Array,
  options: NewKeyOptions = {},
): Promise<{ removed: string; added: KeyFileInfo }> {
  const unlocked = await unlockStore(store, password, options.signal);
  try {
    const old = (await readKeyFiles(store, options.signal)).find((f) => idOfKeyFileKey(f.key) === unlocked.keyId);
    const description = options.description ?? (old ? listKeyFiles([old]).keys[0]?.description : undefined);
    const created = await createKeyFile(newPassword, { params: options.params, description, masterKey: unlocked.masterKey });
    created.masterKey.fill(0);
    await store.put(keyFileKey(created.id), created.file, { signal: options.signal });
    await store.delete(keyFileKey(unlocked.keyId), { signal: options.signal });
    return { removed: unlocked.keyId, added: infoOf(created.file) };
  } finally {
    unlocked.masterKey.fill(0);
  }
}
