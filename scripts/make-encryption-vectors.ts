/**
 * Writes test/vectors/encryption.json: fixed inputs (password, salt, master key, backup ids,
 * places) and the bytes mqbak's encryption makes of them, for docs/ENCRYPTION.md and for other
 * implementations. Regenerate only on purpose (a format change):
 *   npx tsx scripts/make-encryption-vectors.ts
 * test/unit/archive/encryption/vectors.test.ts checks that the code still makes exactly these
 * bytes and recomputes them from node:crypto primitives and the documented layouts.
 */
import { writeFileSync } from 'node:fs';
import { blockAad, sealBlock } from '../src/archive/encryption/block-seal.js';
import { DEFAULT_SCRYPT, deriveScryptKey } from '../src/archive/encryption/kdf.js';
import { createKeyFile, keyFileAad, readKeyFileInfo } from '../src/archive/encryption/key-file.js';
import { manifestAad, sealManifest } from '../src/archive/encryption/manifest-seal.js';
import { blockNonce } from '../src/archive/encryption/nonce.js';
import { deriveBackupKeys, deriveSubkey, subkeyInfo, type SubkeyPurpose } from '../src/archive/encryption/subkeys.js';

const seq = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

const password = 'mqbak test password';
const salt = seq(0x20, 32);
const masterKey = seq(0x00, 32);
const keyNonce = seq(0x40, 12);
const backupIds = ['20261125T010000000Z-a1b2c3', '20261125T020000000Z-d4e5f6'];
const FAST = { N: 1024, r: 8, p: 1 };

const scrypt = [];
for (const params of [FAST, DEFAULT_SCRYPT]) {
  scrypt.push({ password, salt: hex(salt), ...params, derivedKey: hex(await deriveScryptKey(Buffer.from(password), salt, params)) });
}

const created = new Date('2026-11-25T00:00:00.000Z');
const made = await createKeyFile(Buffer.from(password), {
  params: FAST,
  masterKey,
  now: created,
  description: 'test vector',
  fixed: { salt, nonce: keyNonce, id: '0a1b2c3d' },
});
const info = readKeyFileInfo(made.file);
const keyFile = {
  password,
  masterKey: hex(masterKey),
  salt: hex(salt),
  nonce: hex(keyNonce),
  id: info.id,
  created: info.created,
  description: info.description,
  ...FAST,
  wrappingKey: scrypt[0]!.derivedKey,
  aad: keyFileAad({ ...info, salt, nonce: keyNonce }).toString('utf8'),
  file: Buffer.from(made.file).toString('utf8'),
};

const subkeys = [];
for (const backupId of backupIds) {
  for (const purpose of ['segment', 'manifest'] as SubkeyPurpose[]) {
    subkeys.push({ masterKey: hex(masterKey), backupId, purpose, info: hex(subkeyInfo(backupId, purpose)), key: hex(deriveSubkey(masterKey, backupId, purpose)) });
  }
}

const places = [
  { streamIndex: 0, segmentSeq: 0, blockIndex: 0 },
  { streamIndex: 1, segmentSeq: 2, blockIndex: 3 },
  { streamIndex: 0x123456, segmentSeq: 0x789abcdef0, blockIndex: 0x12345678 },
  { streamIndex: 2 ** 24 - 1, segmentSeq: 2 ** 40 - 1, blockIndex: 2 ** 32 - 1 },
];
const nonces = places.map((p) => ({ ...p, nonce: hex(blockNonce(p)) }));

const blocks = [];
const blockInputs = [
  { backupId: backupIds[0]!, formatVersion: 2, streamIndex: 0, segmentSeq: 0, blockIndex: 0, header: Buffer.alloc(0), plaintext: Buffer.from('a compressed block stands here') },
  { backupId: backupIds[0]!, formatVersion: 2, streamIndex: 1, segmentSeq: 2, blockIndex: 3, header: Buffer.from('MQBB header bytes'), plaintext: seq(0x80, 48) },
  { backupId: backupIds[1]!, formatVersion: 2, streamIndex: 1, segmentSeq: 2, blockIndex: 3, header: Buffer.from('MQBB header bytes'), plaintext: seq(0x80, 48) },
];
for (const b of blockInputs) {
  const keys = deriveBackupKeys(masterKey, b.backupId);
  const ctx = { formatVersion: b.formatVersion, streamIndex: b.streamIndex, segmentSeq: b.segmentSeq, blockIndex: b.blockIndex, header: b.header };
  blocks.push({
    backupId: b.backupId,
    formatVersion: b.formatVersion,
    streamIndex: b.streamIndex,
    segmentSeq: b.segmentSeq,
    blockIndex: b.blockIndex,
    header: hex(b.header),
    plaintext: hex(b.plaintext),
    nonce: hex(blockNonce(ctx)),
    aad: hex(blockAad(b.backupId, ctx)),
    sealed: hex(sealBlock(keys, ctx, b.plaintext)),
  });
}

const manifestText = '{\n  "format": "mqbak",\n  "id": "20261125T010000000Z-a1b2c3"\n}\n';
const mKeys = deriveBackupKeys(masterKey, backupIds[0]!);
const stored = sealManifest(mKeys, 2, Buffer.from(manifestText));
const manifest = {
  backupId: backupIds[0],
  formatVersion: 2,
  plaintext: manifestText,
  aad: hex(manifestAad(backupIds[0]!, Buffer.from(stored).subarray(0, 8))),
  stored: hex(stored),
};

const vectors = {
  about:
    'mqbak encryption test vectors (docs/ENCRYPTION.md). Byte strings are lower-case hex unless named text. ' +
    'Made by scripts/make-encryption-vectors.ts; checked by test/unit/archive/encryption/vectors.test.ts.',
  scrypt,
  keyFile,
  subkeys,
  nonces,
  blocks,
  manifest,
};
writeFileSync(new URL('../test/vectors/encryption.json', import.meta.url), JSON.stringify(vectors, null, 2) + '\n');
console.log('wrote test/vectors/encryption.json');
