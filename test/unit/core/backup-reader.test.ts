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
import { loadManifest, readStreamColumns } from '../../../src/core/backup-reader.js';
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
});
