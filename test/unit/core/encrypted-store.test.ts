import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStore } from '../../../src/stores/local.js';
import { openBackupWriter } from '../../../src/core/backup-writer.js';
import { verifyStore } from '../../../src/core/verify.js';
import { unlockStore } from '../../../src/core/store-keys.js';
import { attachMasterKey } from '../../../src/archive/encryption/store-key.js';
import { ENCRYPTED_FIXTURE, ENCRYPTED_FIXTURE_STORE } from '../../../scripts/make-fixtures.js';

const FIXTURE = fileURLToPath(new URL(`../../../fixtures/${ENCRYPTED_FIXTURE_STORE}/`, import.meta.url));
const PLAIN = fileURLToPath(new URL('../../../fixtures/store-v2/', import.meta.url));
const FULL = '20261125T010000000Z-a1b2c3';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mqbak-enc-store-'));
  await cp(FIXTURE, dir, { recursive: true });
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function opened(): Promise<LocalStore> {
  const store = new LocalStore(dir);
  attachMasterKey(store, (await unlockStore(store, Buffer.from(ENCRYPTED_FIXTURE.password))).masterKey);
  return store;
}

const source = { broker: 'kafka', url: 'kafka://h:9092', chainKey: 'c', options: {} };

describe('an encrypted store in core', () => {
  it('a writer without the key is refused before it writes anything', async () => {
    const before = (await readdir(join(dir, 'segments'))).length;
    await expect(openBackupWriter({ store: new LocalStore(dir), kind: 'full', parent: null, source, toolVersion: '0' })).rejects.toMatchObject({
      code: 'usage',
      message: expect.stringContaining('password'),
    });
    expect((await readdir(join(dir, 'segments'))).length).toBe(before);
    expect(await readdir(join(dir, 'manifests'))).toHaveLength(3);
  });

  it('a changed byte of ciphertext in a segment or a manifest is a finding naming the object', async () => {
    const seg = `segments/${FULL}/0000/0000000001.seg`;
    const segPath = join(dir, ...seg.split('/'));
    const b = await readFile(segPath);
    b[b.length - 30]! ^= 0x01;
    await writeFile(segPath, b);
    const man = 'manifests/20261125T030000000Z-0a0b0c.json';
    const m = await readFile(join(dir, ...man.split('/')));
    m[20]! ^= 0x80;
    await writeFile(join(dir, ...man.split('/')), m);
    const r = await verifyStore(await opened());
    expect(r.ok).toBe(false);
    const msgs = r.findings.filter((f) => f.severity === 'error').map((f) => `${f.kind} ${f.message}`);
    expect(msgs.some((x) => x.startsWith(`sha-mismatch segment ${seg}`) && x.includes('failed authentication'))).toBe(true);
    expect(msgs.some((x) => x.startsWith(`invalid-manifest manifest ${man}`) && x.includes('failed authentication'))).toBe(true);
  });

  it('a plaintext manifest put into an encrypted store is refused', async () => {
    await cp(join(PLAIN, 'manifests', `${FULL}.json`), join(dir, 'manifests', `${FULL}.json`), { force: true });
    const r = await verifyStore(await opened());
    expect(r.findings.some((f) => f.kind === 'invalid-manifest' && f.message.includes('not sealed, in an encrypted store'))).toBe(true);
  });
});
