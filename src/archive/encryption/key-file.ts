/**
 * Key files: the store's one random 256-bit master key, wrapped (AES-256-GCM) by a key that
 * scrypt derives from one password. A store holds one key file per password; each wraps the
 * same master key, so adding a password or changing one rewrites one small file and no data.
 *
 * Stored form (docs/ENCRYPTION.md, "Key files"): canonical JSON, indented two spaces, final
 * newline, like a manifest:
 *
 *   { "format": "mqbak-key", "version": 1, "id": "<8 hex>", "created": "<ISO 8601 UTC>",
 *     "description": "<free text, one line>",
 *     "kdf": { "algorithm": "scrypt", "N": .., "r": .., "p": .., "salt": "<base64, 32 bytes>" },
 *     "cipher": "aes-256-gcm", "nonce": "<base64, 12 bytes>",
 *     "wrappedKey": "<base64, 32 bytes>", "tag": "<base64, 16 bytes>",
 *     "checksum": "sha256:<hex of the canonical form without checksum>" }
 *
 * The additional authenticated data of the wrap is the compact canonical JSON of every field but
 * wrappedKey, tag and checksum: version, id, kdf parameters, salt, description and creation time
 * cannot be changed without the password failing. The checksum is there to tell damage (a flipped
 * bit: 'integrity') from a wrong password ('usage'), which a tag failure alone cannot; it is no
 * security: whoever recomputes it only turns damage into "wrong password".
 *
 * Nothing names the host or the user who made the key (restic's key files do): the description
 * is whatever the user chose to write, empty by default.
 */
import { createHash, randomBytes } from 'node:crypto';
import { MqbakError } from '../../common/errors.js';
import { canonicalJson } from '../../common/canonical-json.js';
import { gcmOpen, gcmSeal, KEY_LENGTH, NONCE_LENGTH, TAG_LENGTH } from './aead.js';
import { DEFAULT_SCRYPT, deriveScryptKey, SALT_LENGTH, scryptParamsProblem, type ScryptParams } from './kdf.js';

export const KEY_FILE_FORMAT = 'mqbak-key';
export const KEY_FILE_VERSION = 1;
export const MASTER_KEY_LENGTH = KEY_LENGTH;

const KEY_ID_RE = /^[0-9a-f]{8}$/;
const ISO_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const FIELDS = ['checksum', 'cipher', 'created', 'description', 'format', 'id', 'kdf', 'nonce', 'tag', 'version', 'wrappedKey'];
const KDF_FIELDS = ['N', 'algorithm', 'p', 'r', 'salt'];
const MAX_DESCRIPTION = 200;

/** What `mqbak key list` shows of a key file: readable without the password. */
export interface KeyFileInfo {
  id: string;
  created: string;
  description: string;
  kdf: ScryptParams;
}

interface KeyFileContent extends KeyFileInfo {
  salt: Buffer;
  nonce: Buffer;
  wrappedKey: Buffer;
  tag: Buffer;
}

export interface CreateKeyFileOptions {
  /** scrypt cost; DEFAULT_SCRYPT when absent */
  params?: ScryptParams;
  /** one line the user chose ('' by default); never filled in from the host or the user name */
  description?: string;
  /** the master key to wrap (key add, key passwd); a new random one when absent (key init) */
  masterKey?: Uint8Array;
  now?: Date;
  /** Fixed instead of random, for test vectors only: salt (32 bytes), nonce (12), id (8 hex). */
  fixed?: { salt?: Uint8Array; nonce?: Uint8Array; id?: string };
}

export interface CreatedKeyFile {
  /** the bytes to store (keys/<id>.json, say) */
  file: Uint8Array;
  id: string;
  masterKey: Buffer;
}

function b64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

/** The JSON object of a key file without its checksum. */
function body(c: KeyFileContent): Record<string, unknown> {
  return {
    format: KEY_FILE_FORMAT,
    version: KEY_FILE_VERSION,
    id: c.id,
    created: c.created,
    description: c.description,
    kdf: { algorithm: 'scrypt', N: c.kdf.N, r: c.kdf.r, p: c.kdf.p, salt: b64(c.salt) },
    cipher: 'aes-256-gcm',
    nonce: b64(c.nonce),
    wrappedKey: b64(c.wrappedKey),
    tag: b64(c.tag),
  };
}

/** The additional authenticated data of the wrap: every field that is not the wrap's output. */
export function keyFileAad(c: Omit<KeyFileContent, 'wrappedKey' | 'tag'>): Buffer {
  const o = body({ ...c, wrappedKey: Buffer.alloc(0), tag: Buffer.alloc(0) });
  delete o.wrappedKey;
  delete o.tag;
  return Buffer.from(canonicalJson(o), 'utf8');
}

function checksumOf(withoutChecksum: Record<string, unknown>): string {
  return 'sha256:' + createHash('sha256').update(canonicalJson(withoutChecksum, 2) + '\n').digest('hex');
}

function serialize(c: KeyFileContent): Uint8Array {
  const o = body(c);
  o.checksum = checksumOf(o);
  return Buffer.from(canonicalJson(o, 2) + '\n', 'utf8');
}

function checkDescription(d: string): string | null {
  if (d.length > MAX_DESCRIPTION) return `at most ${MAX_DESCRIPTION} characters`;
  if (/[\u0000-\u001f\u007f]/.test(d)) return 'one line without control characters';
  return null;
}

/**
 * A new key file wrapping `options.masterKey`, or a new random master key (key init). Costs one
 * scrypt derivation (about 0.6 s at the default cost).
 */
export async function createKeyFile(password: Uint8Array, options: CreateKeyFileOptions = {}): Promise<CreatedKeyFile> {
  if (password.length === 0) throw new MqbakError('usage', 'the password is empty');
  const params = options.params ?? { ...DEFAULT_SCRYPT };
  const problem = scryptParamsProblem(params);
  if (problem !== null) throw new MqbakError('usage', `scrypt parameters: ${problem}`);
  const description = options.description ?? '';
  const bad = checkDescription(description);
  if (bad !== null) throw new MqbakError('usage', `key description: ${bad}`);
  if (options.masterKey !== undefined && options.masterKey.length !== MASTER_KEY_LENGTH) {
    throw new MqbakError('internal', `master key must be ${MASTER_KEY_LENGTH} bytes`);
  }
  const masterKey = Buffer.from(options.masterKey ?? randomBytes(MASTER_KEY_LENGTH));
  const salt = Buffer.from(options.fixed?.salt ?? randomBytes(SALT_LENGTH));
  const nonce = Buffer.from(options.fixed?.nonce ?? randomBytes(NONCE_LENGTH));
  const id = options.fixed?.id ?? randomBytes(4).toString('hex');
  if (salt.length !== SALT_LENGTH || nonce.length !== NONCE_LENGTH || !KEY_ID_RE.test(id)) {
    throw new MqbakError('internal', 'fixed key file inputs: salt 32 bytes, nonce 12 bytes, id 8 hex digits');
  }
  const header = { id, created: (options.now ?? new Date()).toISOString(), description, kdf: { ...params }, salt, nonce };
  const wrappingKey = await deriveScryptKey(password, salt, params);
  try {
    const sealed = gcmSeal(wrappingKey, nonce, keyFileAad(header), masterKey);
    const wrappedKey = Buffer.from(sealed.subarray(0, MASTER_KEY_LENGTH));
    const tag = Buffer.from(sealed.subarray(MASTER_KEY_LENGTH));
    return { file: serialize({ ...header, wrappedKey, tag }), id, masterKey };
  } finally {
    wrappingKey.fill(0);
  }
}

function damaged(id: string | null, what: string): MqbakError {
  return new MqbakError('integrity', `key file${id === null ? '' : ` ${id}`}: ${what}`, {
    hint: 'the key file was changed or damaged; use another key of the store (mqbak key list)',
  });
}

function bytesField(id: string, o: Record<string, unknown>, name: string, length: number): Buffer {
  const v = o[name];
  if (typeof v !== 'string') throw damaged(id, `${name} is not a string`);
  const b = Buffer.from(v, 'base64');
  // Buffer.from skips what is not base64: require the canonical encoding of exactly `length` bytes
  if (b.length !== length || b.toString('base64') !== v) throw damaged(id, `${name} is not ${length} bytes in base64`);
  return b;
}

function hasExactly(o: Record<string, unknown>, names: string[]): boolean {
  const keys = Object.keys(o).sort();
  return keys.length === names.length && keys.every((k, i) => k === names[i]);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Checks a key file as stored and returns its content; no password needed. Damage: 'integrity'. */
function parse(bytes: Uint8Array): KeyFileContent {
  let o: unknown;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    o = JSON.parse(text);
  } catch {
    throw damaged(null, 'not valid UTF-8 JSON');
  }
  if (!isObject(o) || o.format !== KEY_FILE_FORMAT) throw damaged(null, `not a ${KEY_FILE_FORMAT} file`);
  if (typeof o.version === 'number' && Number.isInteger(o.version) && o.version > KEY_FILE_VERSION) {
    throw new MqbakError('unsupported', `key file version ${o.version} is newer than this mqbak knows (${KEY_FILE_VERSION})`, {
      hint: 'upgrade mqbak',
    });
  }
  if (o.version !== KEY_FILE_VERSION) throw damaged(null, `version ${String(o.version)} is not a key file version`);
  const id = typeof o.id === 'string' && KEY_ID_RE.test(o.id) ? o.id : null;
  if (id === null) throw damaged(null, 'id is not 8 hex digits');
  if (canonicalJson(o, 2) + '\n' !== text) throw damaged(id, 'not in canonical form');
  const { checksum, ...rest } = o;
  if (checksum !== checksumOf(rest)) throw damaged(id, 'checksum does not match');
  if (!hasExactly(o, FIELDS)) throw damaged(id, 'unexpected or missing fields');
  if (typeof o.created !== 'string' || !ISO_RE.test(o.created)) throw damaged(id, 'created is not an ISO 8601 UTC time');
  if (typeof o.description !== 'string' || checkDescription(o.description) !== null) throw damaged(id, 'bad description');
  const kdf = o.kdf;
  if (!isObject(kdf) || !hasExactly(kdf, KDF_FIELDS)) throw damaged(id, 'kdf is not {algorithm, N, r, p, salt}');
  if (kdf.algorithm !== 'scrypt') throw new MqbakError('unsupported', `key file ${id}: key derivation ${String(kdf.algorithm)} is not known to this mqbak`);
  if (o.cipher !== 'aes-256-gcm') throw new MqbakError('unsupported', `key file ${id}: cipher ${String(o.cipher)} is not known to this mqbak`);
  const params = { N: kdf.N as number, r: kdf.r as number, p: kdf.p as number };
  const problem = scryptParamsProblem(params);
  if (problem !== null) throw new MqbakError('unsupported', `key file ${id}: scrypt parameters: ${problem}`);
  return {
    id,
    created: o.created,
    description: o.description,
    kdf: params,
    salt: bytesField(id, kdf, 'salt', SALT_LENGTH),
    nonce: bytesField(id, o, 'nonce', NONCE_LENGTH),
    wrappedKey: bytesField(id, o, 'wrappedKey', MASTER_KEY_LENGTH),
    tag: bytesField(id, o, 'tag', TAG_LENGTH),
  };
}

/** The id, creation time, description and KDF cost of a key file, checked for damage. */
export function readKeyFileInfo(bytes: Uint8Array): KeyFileInfo {
  const c = parse(bytes);
  return { id: c.id, created: c.created, description: c.description, kdf: c.kdf };
}

/**
 * The master key a key file wraps. A wrong password is MqbakError 'usage' ("wrong password for
 * key <id>"); a damaged file 'integrity'; a newer format 'unsupported'. A store with several key
 * files tries each until one opens (each try costs one derivation).
 */
export async function openKeyFile(bytes: Uint8Array, password: Uint8Array): Promise<Buffer> {
  const c = parse(bytes);
  const wrappingKey = await deriveScryptKey(password, c.salt, c.kdf);
  try {
    const masterKey = gcmOpen(wrappingKey, c.nonce, keyFileAad(c), Buffer.concat([c.wrappedKey, c.tag]));
    if (masterKey === null) throw new MqbakError('usage', `wrong password for key ${c.id}`);
    return Buffer.from(masterKey);
  } finally {
    wrappingKey.fill(0);
  }
}

/**
 * `key passwd`: a new key file (new salt, nonce and id) wrapping the same master key under
 * `newPassword`, at `options.params` or the default cost. The caller stores it, then removes the old file; no data is rewritten.
 * `key add` is createKeyFile with the master key openKeyFile returned.
 */
export async function rewrapKeyFile(
  bytes: Uint8Array,
  oldPassword: Uint8Array,
  newPassword: Uint8Array,
  options: Omit<CreateKeyFileOptions, 'masterKey'> = {},
): Promise<CreatedKeyFile> {
  const masterKey = await openKeyFile(bytes, oldPassword);
  try {
    // the new file gets today's default cost unless told otherwise: a password change is also
    // the moment an old, cheaper key file catches up
    return await createKeyFile(newPassword, { ...options, masterKey });
  } finally {
    masterKey.fill(0);
  }
}
