/**
 * A manifest as the store holds it: plaintext canonical JSON (format 1 and 2, unencrypted
 * stores), or sealed in the MQEM envelope (format 3, encrypted stores; docs/FORMAT.md 9.3). A cut
 * (format 4, docs/FORMAT.md 11) is either, by the store's kind: its envelope says 4 as well. One
 * place decides which, for the writer and for every reader, so that an encrypted store never
 * gets a plaintext manifest and a reader never accepts one from it.
 */
import { MqbakError } from '../common/errors.js';
import { CUT_FORMAT_VERSION, ENCRYPTED_FORMAT_VERSION, NEWEST_FORMAT_VERSION, parseManifest, serializeManifest, type Manifest } from './manifest.js';
import { isSealedManifest, openManifest, sealManifest } from './encryption/manifest-seal.js';
import { deriveBackupKeys } from './encryption/subkeys.js';

/** The bytes to store for `manifest`: sealed (and version 3, or 4 for a cut) when a master key is given. */
export function encodeStoredManifest(manifest: Manifest, masterKey: Uint8Array | null): Uint8Array {
  if (masterKey === null) return serializeManifest(manifest);
  const version = manifest.version === CUT_FORMAT_VERSION ? CUT_FORMAT_VERSION : ENCRYPTED_FORMAT_VERSION;
  const plain = serializeManifest({ ...manifest, version });
  return sealManifest(deriveBackupKeys(masterKey, manifest.id), version, plain);
}

export function needsPassword(what: string): MqbakError {
  return new MqbakError('usage', `${what} is encrypted: the store's password is needed`, {
    hint: 'set MQBAK_PASSWORD_FILE (or MQBAK_PASSWORD_COMMAND, MQBAK_PASSWORD), or pass --password-file / --password-command',
  });
}

/**
 * The manifest of backup `id` from its stored bytes. Sealed without a key: 'usage' (the password
 * is needed). A tag that does not verify, a plaintext manifest in an encrypted store (whoever can
 * write the store could otherwise put an unauthenticated one there) or a version 3 manifest
 * stored in the clear: 'integrity'. `context` starts every message ("manifest <key>").
 */
export function decodeStoredManifest(stored: Uint8Array, id: string, masterKey: Uint8Array | null, context: string): Manifest {
  if (!isSealedManifest(stored)) {
    if (masterKey !== null) throw new MqbakError('integrity', `${context}: not sealed, in an encrypted store`);
    const m = parseManifest(stored, context);
    if (m.version === ENCRYPTED_FORMAT_VERSION) throw new MqbakError('integrity', `${context}: a version ${m.version} manifest must be sealed`);
    return m;
  }
  if (masterKey === null) throw needsPassword(context);
  let opened: { formatVersion: number; bytes: Uint8Array };
  try {
    opened = openManifest(deriveBackupKeys(masterKey, id), stored, NEWEST_FORMAT_VERSION);
  } catch (e) {
    if (e instanceof MqbakError) throw new MqbakError(e.code, `${context}: ${e.message}`, { hint: e.hint });
    throw e;
  }
  const m = parseManifest(opened.bytes, context);
  if ((m.version !== ENCRYPTED_FORMAT_VERSION && m.version !== CUT_FORMAT_VERSION) || opened.formatVersion !== m.version) {
    throw new MqbakError('integrity', `${context}: sealed manifest of version ${m.version} (envelope ${opened.formatVersion}), expected ${ENCRYPTED_FORMAT_VERSION} or ${CUT_FORMAT_VERSION}`);
  }
  return m;
}
