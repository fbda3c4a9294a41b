/**
 * test/vectors/encryption.json must keep holding: the code makes exactly these bytes, and each
 * value is also recomputed here from node:crypto primitives and the layouts docs/ENCRYPTION.md
 * states, so the vectors and the document agree with each other and not only with the code.
 */
import { createCipheriv, hkdfSync, scryptSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { blockAad, openBlock, sealBlock } from '../../../../src/archive/encryption/block-seal.js';
import { deriveScryptKey } from '../../../../src/archive/encryption/kdf.js';
import { createKeyFile, openKeyFile } from '../../../../src/archive/encryption/key-file.js';
import { openManifest, sealManifest } from '../../../../src/archive/encryption/manifest-seal.js';
import { blockNonce } from '../../../../src/archive/encryption/nonce.js';
import { deriveBackupKeys, deriveSubkey, type SubkeyPurpose } from '../../../../src/archive/encryption/subkeys.js';

const v = JSON.parse(readFileSync(new URL('../../../vectors/encryption.json', import.meta.url), 'utf8'));
const h = (s: string) => Buffer.from(s, 'hex');
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function gcm(key: Buffer, nonce: Buffer, aad: Buffer, plain: Buffer): string {
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(aad);
  return hex(Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]));
}

function u16(n: number) {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(n);
  return b;
}
function u32(n: number) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n: number) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

describe('encryption test vectors', () => {
  it('scrypt: node agrees with RFC 7914, and the vectors with node', async () => {
    // RFC 7914 section 12, third vector (first 32 of its 64 bytes)
    const rfc = await deriveScryptKey(Buffer.from('password'), Buffer.from('NaCl'), { N: 1024, r: 8, p: 16 });
    expect(hex(rfc)).toBe('fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162');
    for (const s of v.scrypt) {
      const params = { N: s.N, r: s.r, p: s.p };
      expect(hex(await deriveScryptKey(Buffer.from(s.password), h(s.salt), params))).toBe(s.derivedKey);
      if (s.N <= 1024) expect(hex(scryptSync(s.password, h(s.salt), 32, params))).toBe(s.derivedKey);
    }
  }, 30_000);

  it('key file: the code writes the file byte for byte, it opens, and the wrap is GCM over the stated AAD', async () => {
    const k = v.keyFile;
    const made = await createKeyFile(Buffer.from(k.password), {
      params: { N: k.N, r: k.r, p: k.p },
      masterKey: h(k.masterKey),
      now: new Date(k.created),
      description: k.description,
      fixed: { salt: h(k.salt), nonce: h(k.nonce), id: k.id },
    });
    expect(Buffer.from(made.file).toString('utf8')).toBe(k.file);
    expect(hex(await openKeyFile(Buffer.from(k.file), Buffer.from(k.password)))).toBe(k.masterKey);
    const file = JSON.parse(k.file);
    // AAD: the compact canonical JSON of the file without wrappedKey, tag and checksum
    const { wrappedKey, tag, checksum, ...rest } = file;
    expect(k.aad).toBe(JSON.stringify(rest, Object.keys(rest).concat(Object.keys(rest.kdf)).sort()));
    const sealed = gcm(h(k.wrappingKey), h(k.nonce), Buffer.from(k.aad), h(k.masterKey));
    expect(sealed).toBe(hex(Buffer.concat([Buffer.from(wrappedKey, 'base64'), Buffer.from(tag, 'base64')])));
    expect(file.kdf.salt).toBe(h(k.salt).toString('base64'));
    expect(checksum).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('subkeys: HKDF-SHA256, empty salt, info "mqbak subkey v1" 0 purpose 0 backup id', () => {
    for (const s of v.subkeys) {
      const info = Buffer.concat([Buffer.from('mqbak subkey v1'), Buffer.from([0]), Buffer.from(s.purpose), Buffer.from([0]), Buffer.from(s.backupId)]);
      expect(hex(info)).toBe(s.info);
      expect(hex(Buffer.from(hkdfSync('sha256', h(s.masterKey), Buffer.alloc(0), info, 32)))).toBe(s.key);
      expect(hex(deriveSubkey(h(s.masterKey), s.backupId, s.purpose as SubkeyPurpose))).toBe(s.key);
    }
  });

  it('nonces: u24 stream index, u40 segment seq, u32 block index, little-endian', () => {
    for (const n of v.nonces) {
      const b = Buffer.alloc(12);
      b.writeUIntLE(n.streamIndex, 0, 3);
      b.writeUIntLE(n.segmentSeq, 3, 5);
      b.writeUInt32LE(n.blockIndex, 8);
      expect(hex(b)).toBe(n.nonce);
      expect(hex(blockNonce(n))).toBe(n.nonce);
    }
  });

  it('blocks: sealed = GCM(segment subkey, place nonce, AAD of the stated layout)', () => {
    const master = h(v.keyFile.masterKey);
    for (const b of v.blocks) {
      const id = Buffer.from(b.backupId, 'ascii');
      const header = h(b.header);
      const aad = Buffer.concat([Buffer.from('MQEB'), u16(b.formatVersion), Buffer.from([id.length]), id, u32(b.streamIndex), u64(b.segmentSeq), u32(b.blockIndex), u32(header.length), header]);
      expect(hex(aad)).toBe(b.aad);
      const key = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), Buffer.from(`mqbak subkey v1\0segment\0${b.backupId}`), 32));
      expect(gcm(key, h(b.nonce), aad, h(b.plaintext))).toBe(b.sealed);
      const keys = deriveBackupKeys(master, b.backupId);
      const ctx = { formatVersion: b.formatVersion, streamIndex: b.streamIndex, segmentSeq: b.segmentSeq, blockIndex: b.blockIndex, header };
      expect(hex(blockAad(b.backupId, ctx))).toBe(b.aad);
      expect(hex(sealBlock(keys, ctx, h(b.plaintext)))).toBe(b.sealed);
      expect(hex(openBlock(keys, ctx, h(b.sealed)))).toBe(b.plaintext);
    }
    // the same place and bytes in two backups: different ciphertexts (different subkeys)
    expect(v.blocks[1].sealed).not.toBe(v.blocks[2].sealed);
  });

  it('manifest: "MQEM", u16 version, u16 0, then GCM(manifest subkey, zero nonce, header || n || id || "manifest")', () => {
    const m = v.manifest;
    const master = h(v.keyFile.masterKey);
    const id = Buffer.from(m.backupId, 'ascii');
    const header = Buffer.concat([Buffer.from('MQEM'), u16(m.formatVersion), u16(0)]);
    const aad = Buffer.concat([header, Buffer.from([id.length]), id, Buffer.from('manifest')]);
    expect(hex(aad)).toBe(m.aad);
    const key = Buffer.from(hkdfSync('sha256', master, Buffer.alloc(0), Buffer.from(`mqbak subkey v1\0manifest\0${m.backupId}`), 32));
    expect(hex(header) + gcm(key, Buffer.alloc(12), aad, Buffer.from(m.plaintext))).toBe(m.stored);
    const keys = deriveBackupKeys(master, m.backupId);
    expect(hex(sealManifest(keys, m.formatVersion, Buffer.from(m.plaintext)))).toBe(m.stored);
    expect(Buffer.from(openManifest(keys, h(m.stored), m.formatVersion).bytes).toString('utf8')).toBe(m.plaintext);
  });
});
