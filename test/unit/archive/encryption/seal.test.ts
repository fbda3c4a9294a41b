import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import { openBlock, sealBlock, type SealedBlockContext } from '../../../../src/archive/encryption/block-seal.js';
import { isSealedManifest, openManifest, sealManifest } from '../../../../src/archive/encryption/manifest-seal.js';
import { deriveBackupKeys } from '../../../../src/archive/encryption/subkeys.js';
import { gcmOpen, gcmSeal } from '../../../../src/archive/encryption/aead.js';
import { pseudoRandomBytes } from '../../../helpers/random.js';

const master = Buffer.alloc(32, 7);
const ID = '20261204T120000000Z-abcdef';
const keys = deriveBackupKeys(master, ID);
const at: SealedBlockContext = { formatVersion: 2, streamIndex: 3, segmentSeq: 41, blockIndex: 5, header: Buffer.from('clear header') };

function thrown(f: () => unknown): MqbakError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    return e as MqbakError;
  }
  throw new Error('expected a throw');
}

describe('AES-256-GCM helpers', () => {
  it('round-trip every length around the 64 KiB pieces, and the pieces do not change the bytes', async () => {
    const { createCipheriv } = await import('node:crypto');
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    for (const n of [0, 1, 15, 16, 17, 65535, 65536, 65537, 3 * 65536 + 1]) {
      const data = pseudoRandomBytes(n, n + 1);
      const sealed = gcmSeal(key, nonce, Buffer.from('aad'), data);
      // the same as one update() over the whole input
      const c = createCipheriv('aes-256-gcm', key, nonce);
      c.setAAD(Buffer.from('aad'));
      const whole = Buffer.concat([c.update(data), c.final(), c.getAuthTag()]);
      expect(Buffer.from(sealed).equals(whole), `length ${n}`).toBe(true);
      expect(Buffer.from(gcmOpen(key, nonce, Buffer.from('aad'), sealed)!).equals(Buffer.from(data))).toBe(true);
    }
  });
});

describe('opening in place', () => {
  it('writes the plaintext over the ciphertext and returns a view of it; a failed open returns null and leaves no plaintext', () => {
    const plain = pseudoRandomBytes(200_000, 9);
    const sealed = Buffer.from(sealBlock(keys, at, plain));
    const copy = Buffer.from(sealed);
    const out = openBlock(keys, at, sealed, true);
    expect(out.buffer).toBe(sealed.buffer);
    expect(out.byteOffset).toBe(sealed.byteOffset);
    expect(Buffer.from(out).equals(Buffer.from(plain))).toBe(true);
    // opened in a copy, as before: the sealed bytes stay
    const kept = Buffer.from(copy);
    expect(Buffer.from(openBlock(keys, at, kept)).equals(Buffer.from(plain))).toBe(true);
    expect(kept.equals(copy)).toBe(true);
    const bad = Buffer.from(copy);
    bad[bad.length - 1]! ^= 1;
    expect(thrown(() => openBlock(keys, at, bad, true)).code).toBe('integrity');
    expect(bad.subarray(0, bad.length - 16).every((b) => b === 0)).toBe(true);
    expect(gcmOpen(keys.segment, Buffer.alloc(12, 1), Buffer.alloc(0), Buffer.from(copy), true)).toBeNull();
  });
});

describe('block sealing', () => {
  const block = pseudoRandomBytes(300_000, 9);

  it('round-trips and adds exactly the 16-byte tag; the ciphertext does not contain the block', () => {
    const sealed = sealBlock(keys, at, block);
    expect(sealed.length).toBe(block.length + 16);
    expect(Buffer.from(openBlock(keys, at, sealed)).equals(Buffer.from(block))).toBe(true);
    const marker = Buffer.from('MARKER-in-a-message-body');
    const withMarker = Buffer.concat([Buffer.alloc(1000), marker, Buffer.alloc(1000)]);
    expect(Buffer.from(sealBlock(keys, at, withMarker)).includes(marker)).toBe(false);
  });

  it('any changed byte (ciphertext or tag) is an integrity error that names the block', () => {
    const sealed = sealBlock(keys, at, block);
    for (const i of [0, 1, 65536, block.length - 1, block.length, block.length + 15]) {
      const bad = Buffer.from(sealed);
      bad[i] = bad[i]! ^ 0x80;
      const e = thrown(() => openBlock(keys, at, bad));
      expect(e.code).toBe('integrity');
      expect(e.message).toBe(`block 5 (stream 3, segment 41) of backup ${ID} failed authentication: changed, moved, or sealed with another key`);
    }
    expect(thrown(() => openBlock(keys, at, sealed.subarray(0, sealed.length - 1))).code).toBe('integrity');
    expect(thrown(() => openBlock(keys, at, sealed.subarray(0, 10))).code).toBe('integrity');
  });

  it('a block moved to another place, backup, version or header fails to open', () => {
    const sealed = sealBlock(keys, at, block);
    const elsewhere: SealedBlockContext[] = [
      { ...at, streamIndex: 4 },
      { ...at, segmentSeq: 42 },
      { ...at, blockIndex: 6 },
      { ...at, formatVersion: 3 },
      { ...at, header: Buffer.from('clear headeR') },
      { ...at, header: undefined },
    ];
    for (const ctx of elsewhere) expect(thrown(() => openBlock(keys, ctx, sealed)).code).toBe('integrity');
    const otherBackup = deriveBackupKeys(master, '20261204T120000000Z-abcdee');
    expect(thrown(() => openBlock(otherBackup, at, sealed)).code).toBe('integrity');
    const otherStore = deriveBackupKeys(Buffer.alloc(32, 8), ID);
    expect(thrown(() => openBlock(otherStore, at, sealed)).code).toBe('integrity');
    // the same keys object with a forged id (the id only reaches the additional data) fails too
    expect(thrown(() => openBlock({ ...keys, backupId: '20261204T120000000Z-abcdee' }, at, sealed)).code).toBe('integrity');
  });

  it('refuses places outside the nonce fields before sealing anything', () => {
    for (const ctx of [
      { ...at, streamIndex: 2 ** 24 },
      { ...at, segmentSeq: 2 ** 40 },
      { ...at, blockIndex: 2 ** 32 },
      { ...at, blockIndex: -1 },
      { ...at, blockIndex: 1.5 },
    ]) {
      expect(thrown(() => sealBlock(keys, ctx, block)).code).toBe('internal');
    }
  });
});

describe('manifest sealing', () => {
  const manifest = Buffer.from('{\n  "format": "mqbak",\n  "id": "' + ID + '",\n  "streams": ["kafka/orders-MARKER/0"]\n}\n');

  it('round-trips; the envelope shows its version and nothing of the manifest', () => {
    const stored = sealManifest(keys, 2, manifest);
    expect(Buffer.from(stored).subarray(0, 8).equals(Buffer.from([0x4d, 0x51, 0x45, 0x4d, 2, 0, 0, 0]))).toBe(true);
    expect(stored.length).toBe(manifest.length + 8 + 16);
    expect(isSealedManifest(stored)).toBe(true);
    expect(isSealedManifest(manifest)).toBe(false);
    expect(Buffer.from(stored).includes(Buffer.from('MARKER'))).toBe(false);
    const opened = openManifest(keys, stored, 2);
    expect(opened.formatVersion).toBe(2);
    expect(Buffer.from(opened.bytes).equals(manifest)).toBe(true);
  });

  it('a changed byte, a manifest renamed to another backup, or a block key: integrity; a newer version: unsupported', () => {
    const stored = Buffer.from(sealManifest(keys, 2, manifest));
    for (let i = 0; i < stored.length; i += 3) {
      if (i === 4 || i === 5) continue; // the version (u16): a changed version is checked below
      const bad = Buffer.from(stored);
      bad[i] = bad[i]! ^ 0x01;
      expect(thrown(() => openManifest(keys, bad, 2)).code, `byte ${i}`).toBe('integrity');
    }
    const renamed = deriveBackupKeys(master, '20261204T120000001Z-abcdef');
    expect(thrown(() => openManifest(renamed, stored, 2)).message).toMatch(/failed authentication/);
    expect(thrown(() => openManifest({ ...keys, manifest: keys.segment }, stored, 2)).code).toBe('integrity');
    const older = Buffer.from(stored);
    older[4] = 1;
    expect(thrown(() => openManifest(keys, older, 2)).code).toBe('integrity');
    const newer = Buffer.from(stored);
    newer[4] = 3;
    expect(thrown(() => openManifest(keys, newer, 2)).code).toBe('unsupported');
  });
});
