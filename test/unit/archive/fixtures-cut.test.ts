/**
 * The golden store of format version 4 (fixtures/store-v4-cut): store-v2 plus a cut of its Kafka
 * chain (docs/FORMAT.md 11). It must keep decoding, verifying and printing the same JSON lines,
 * and the cut must come out of core's cut byte for byte.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../../src/stores/local.js';
import { catRecords } from '../../../src/core/inspect.js';
import { listBackups } from '../../../src/core/backup-reader.js';
import { verifyStore } from '../../../src/core/verify.js';
import { CUT_FORMAT_VERSION } from '../../../src/archive/manifest.js';
import { CUT_FIXTURE, CUT_FIXTURE_STORE, expectedCutLines, expectedLines, fixtureBackups, writeCutFixtureStore } from '../../../scripts/make-fixtures.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const STORE = join(FIXTURES, CUT_FIXTURE_STORE);

async function files(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name))).sort();
}

describe(`golden fixtures ${CUT_FIXTURE_STORE}`, () => {
  it('hold the three backups of store-v2 and a version 4 cut of the Kafka chain that refers to the incremental\'s segments', async () => {
    const list = await listBackups(new LocalStore(STORE));
    expect(list.map((l) => l.manifest.id)).toEqual([...fixtureBackups().map((b) => b.id), CUT_FIXTURE.id]);
    const c = list[3]!.manifest;
    expect(c).toMatchObject({ version: CUT_FORMAT_VERSION, kind: 'full', parent: null, cut: { of: CUT_FIXTURE.of, before: CUT_FIXTURE.before } });
    const keys = c.streams.flatMap((s) => s.segments.map((g) => g.key));
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k.startsWith(`segments/${CUT_FIXTURE.of}/`), k).toBe(true);
  });

  it('cat gives the checked-in expected JSON lines: the cut holds the incremental\'s records', async () => {
    const store = new LocalStore(STORE);
    const expected = (await readFile(join(FIXTURES, `${CUT_FIXTURE_STORE}.expected.jsonl`), 'utf8')).trimEnd().split('\n');
    const got: string[] = [];
    for (const id of [...fixtureBackups().map((b) => b.id), CUT_FIXTURE.id]) for await (const r of catRecords(store, id)) got.push(JSON.stringify({ backup: id, ...r }));
    expect(got).toEqual(expected);
    expect([...(await expectedLines()), ...(await expectedCutLines())]).toEqual(expected);
  });

  it('verify finds nothing, also for the cut alone', async () => {
    const all = await verifyStore(new LocalStore(STORE));
    expect(all.findings).toEqual([]);
    const one = await verifyStore(new LocalStore(STORE), { id: CUT_FIXTURE.id });
    expect(one.findings).toEqual([]);
    expect(one.checked).toMatchObject({ backups: 1, records: 15 });
  });

  it('core\'s cut reproduces the same bytes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-fixture-cut-'));
    try {
      await writeCutFixtureStore(dir);
      const want = await files(STORE);
      expect(await files(dir)).toEqual(want);
      for (const f of want) expect((await readFile(join(STORE, f))).equals(await readFile(join(dir, f))), f).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
