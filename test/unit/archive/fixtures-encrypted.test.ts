import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../../src/stores/local.js';
import { catRecords } from '../../../src/core/inspect.js';
import { listBackups, loadManifest, readStream } from '../../../src/core/backup-reader.js';
import { verifyStore } from '../../../src/core/verify.js';
import { unlockStore } from '../../../src/core/store-keys.js';
import { attachMasterKey } from '../../../src/archive/encryption/store-key.js';
import { encodeRecord } from '../../../src/archive/record-encoder.js';
import { BLOCK_PREFIX_SIZE, checkSegmentHeader, decodeBlockHeader } from '../../../src/archive/segment-framing.js';
import { ENCRYPTED_FIXTURE, ENCRYPTED_FIXTURE_STORE, expectedLines, fixtureBackups, writeFixtureStore } from '../../../scripts/make-fixtures.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const STORE = join(FIXTURES, ENCRYPTED_FIXTURE_STORE);

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  await walk(dir);
  return out.sort();
}

/** The fixture store opened with the fixture's password, as the CLI opens it. */
async function opened(): Promise<LocalStore> {
  const store = new LocalStore(STORE);
  const u = await unlockStore(store, Buffer.from(ENCRYPTED_FIXTURE.password));
  attachMasterKey(store, u.masterKey);
  return store;
}

describe(`golden fixtures ${ENCRYPTED_FIXTURE_STORE} (format 3, encrypted)`, () => {
  it('decode with the test password to exactly the input records, and cat gives the expected lines', async () => {
    const store = await opened();
    const list = await listBackups(store);
    expect(list.map((l) => [l.manifest.id, l.manifest.version, l.manifest.parent?.id ?? null])).toEqual(
      fixtureBackups().map((b) => [b.id, 3, b.parentId]),
    );
    for (const b of fixtureBackups()) {
      const loaded = list.find((l) => l.manifest.id === b.id)!;
      for (const [i, s] of b.streams.entries()) {
        const got = [];
        for await (const r of readStream(store, loaded.manifest.streams[i]!)) got.push(r);
        expect(got.map((r) => Buffer.from(encodeRecord(r)).toString('hex'))).toEqual(s.records.map((r) => Buffer.from(encodeRecord(r)).toString('hex')));
      }
    }
    const expected = (await readFile(join(FIXTURES, `${ENCRYPTED_FIXTURE_STORE}.expected.jsonl`), 'utf8')).trimEnd().split('\n');
    const got: string[] = [];
    for (const b of fixtureBackups()) for await (const r of catRecords(store, b.id)) got.push(JSON.stringify({ backup: b.id, ...r }));
    expect(got).toEqual(expected);
    expect(await expectedLines()).toEqual(expected);
  });

  it('verify finds nothing with the key', async () => {
    const r = await verifyStore(await opened());
    expect(r.findings).toEqual([]);
    expect(r.checked).toMatchObject({ backups: 3, records: 69 });
  });

  it('without the key: manifests and segments are refused as needing the password; a wrong password opens nothing', async () => {
    const plain = new LocalStore(STORE);
    await expect(loadManifest(plain, fixtureBackups()[0]!.id)).rejects.toMatchObject({ code: 'usage', message: expect.stringContaining('password') });
    await expect(verifyStore(plain)).rejects.toMatchObject({ code: 'usage' });
    await expect(unlockStore(plain, Buffer.from('not the password'))).rejects.toMatchObject({ code: 'usage', message: 'wrong password for this store' });
  });

  it('no stored object holds a topic, queue, key or header name of the input in the clear', async () => {
    const markers = ['orders', 'payments', 'jobs', 'x-retries', 'application/json'];
    for (const f of await files(STORE)) {
      const bytes = await readFile(join(STORE, f));
      for (const m of markers) expect(bytes.includes(Buffer.from(m)), `${m} in ${f}`).toBe(false);
    }
  });

  it('sealed blocks show no raw CRC-32, no counts and no positions in their clear headers', async () => {
    let blocks = 0;
    for (const f of (await files(STORE)).filter((x) => x.endsWith('.seg'))) {
      const bytes = await readFile(join(STORE, f));
      const { at: start, version } = checkSegmentHeader(bytes, f);
      expect(version).toBe(2);
      for (let at = start, i = 0; at < bytes.length; i++) {
        const h = decodeBlockHeader(bytes, at, f, i, version);
        expect([h.version, h.rawCrc, h.compressedCrc, h.records, h.firstPosition, h.lastPosition]).toEqual([2, 0, 0, 0, 0n, 0n]);
        at += BLOCK_PREFIX_SIZE + h.compressedLength;
        blocks++;
      }
    }
    expect(blocks).toBeGreaterThan(9);
  });

  it('the writer reproduces the same bytes for the same input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-fixture-enc-'));
    try {
      await writeFixtureStore(dir, undefined, true);
      const want = await files(STORE);
      expect(await files(dir)).toEqual(want.filter((f) => !f.endsWith('.expected.jsonl')));
      for (const f of want) expect((await readFile(join(dir, f))).equals(await readFile(join(STORE, f))), f).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
