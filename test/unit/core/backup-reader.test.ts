/**
 * backup-reader.ts, as restore reads: a segment whose records do not add up to its manifest
 * entry hands on none of its records (docs/FORMAT.md section 7: checked before a record is
 * handed on), where it used to hand on the blocks before the count went wrong.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseManifest, serializeManifest } from '../../../src/archive/manifest.js';
import { sha256Hex } from '../../../src/archive/manifest.js';
import { CheckedSegments, loadManifest, readStreamColumns } from '../../../src/core/backup-reader.js';
import { LocalStore } from '../../../src/stores/local.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/store-v2/', import.meta.url));
const FULL = '20261125T010000000Z-a1b2c3';

describe('readStreamColumns', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-reader-'));
    await cp(FIXTURE, dir, { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a segment holding more records than its entry says: nothing of it is handed on', async () => {
    // a manifest (valid, checksummed) that says payments' first segment holds 2 records; it holds 3
    const file = join(dir, 'manifests', `${FULL}.json`);
    const m = parseManifest(await readFile(file));
    const s = m.streams.find((x) => x.name === 'kafka/payments/0')!;
    s.segments[0]!.records = 2;
    s.records -= 1;
    await writeFile(file, serializeManifest(m));
    const store = new LocalStore(dir);
    const { manifest } = await loadManifest(store, FULL);
    const stream = manifest.streams.find((x) => x.name === 'kafka/payments/0')!;
    const blocks = readStreamColumns(store, stream);
    await expect(blocks.next()).rejects.toMatchObject({
      code: 'integrity',
      message: expect.stringMatching(/^segment segments\/20261125T010000000Z-a1b2c3\/0002\/0000000000\.seg: its blocks hold 3 records, manifest says 2/) as unknown,
    });
  });

  const PAYMENTS = 'kafka/payments/0';
  /** payments' first segment, its bytes with one byte of its last block changed (same size), and its file. */
  const changedSegment = async (): Promise<{ key: string; file: string; before: Uint8Array; after: Uint8Array }> => {
    const { manifest } = await loadManifest(new LocalStore(dir), FULL);
    const key = manifest.streams.find((x) => x.name === PAYMENTS)!.segments[0]!.key;
    const file = join(dir, key);
    const before = new Uint8Array(await readFile(file));
    const after = Uint8Array.from(before);
    after[after.length - 1] = after[after.length - 1]! ^ 0x01;
    return { key, file, before, after };
  };
  const firstBlock = async (store: LocalStore, checked: CheckedSegments) => {
    const { manifest } = await loadManifest(store, FULL);
    return readStreamColumns(store, manifest.streams.find((x) => x.name === PAYMENTS)!, { checked }).next();
  };

  it('a segment read whole before (CheckedSegments) and changed since, same size: refused by its SHA-256 before any of its records', async () => {
    const { key, file, before, after } = await changedSegment();
    const checked = new CheckedSegments();
    checked.add({ key, sha256: sha256Hex(before) });
    await writeFile(file, after);
    await expect(firstBlock(new LocalStore(dir), checked)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(`segment ${key}: SHA-256 ${sha256Hex(after)}, manifest says ${sha256Hex(before)}`) as unknown });
  });

  it('a segment checked whole under another SHA-256 than its entry states is checked again in full', async () => {
    const { key, file, before, after } = await changedSegment();
    // the changed bytes, with a manifest that states their SHA-256: only the block checks can find the damage
    await writeFile(file, after);
    const mfile = join(dir, 'manifests', `${FULL}.json`);
    const m = parseManifest(await readFile(mfile));
    m.streams.find((x) => x.name === PAYMENTS)!.segments[0]!.sha256 = sha256Hex(after);
    await writeFile(mfile, serializeManifest(m));
    const found = /^segment \S+: block \d+ at byte \d+: compressed data checksum mismatch$/;
    // checked before as the bytes it held then: no reason to leave a check out now
    const then = new CheckedSegments();
    then.add({ key, sha256: sha256Hex(before) });
    await expect(firstBlock(new LocalStore(dir), then)).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(found) as unknown });
    await expect(firstBlock(new LocalStore(dir), new CheckedSegments())).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(found) as unknown });
  });
});
