import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalStore } from '../../../src/stores/local.js';
import { verifyStore, type Finding } from '../../../src/core/verify.js';
import { loadManifest, readStream, resolveChain } from '../../../src/core/backup-reader.js';
import { parseManifest, serializeManifest } from '../../../src/archive/manifest.js';
import { isMqbakError } from '../../../src/common/errors.js';

const FIXTURE = fileURLToPath(new URL('../../../fixtures/store-v2/', import.meta.url));
const FULL = '20261125T010000000Z-a1b2c3';
const INC = '20261125T020000000Z-d4e5f6';
const RABBIT = '20261125T030000000Z-0a0b0c';
const SEG = `segments/${FULL}/0002/0000000000.seg`; // payments: holds a record split over blocks
const SEG2 = `segments/${INC}/0000/0000000000.seg`;

const errors = (fs: Finding[]) => fs.filter((f) => f.severity === 'error');
const kinds = (fs: Finding[]) => errors(fs).map((f) => `${f.kind} ${f.key ?? ''}`);

describe('corruption: each damage gives its own finding', () => {
  let dir: string;
  let store: LocalStore;
  const file = (key: string) => join(dir, ...key.split('/'));
  const flip = async (key: string, at: number) => {
    const b = await readFile(file(key));
    const i = at < 0 ? b.length + at : at;
    b[i] = b[i]! ^ 0x01;
    await writeFile(file(key), b);
  };
  const rewriteManifest = async (id: string, edit: (m: ReturnType<typeof parseManifest>) => void) => {
    const key = `manifests/${id}.json`;
    const m = parseManifest(await readFile(file(key)));
    edit(m);
    await writeFile(file(key), serializeManifest(m));
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-corrupt-'));
    await cp(FIXTURE, dir, { recursive: true });
    store = new LocalStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a flipped byte in a segment: sha-mismatch naming it, with where the damage is', async () => {
    for (const [at, where] of [
      [0, /not an mqbak segment/],
      [20, /block 0 at byte 16: no block header frame/],
      [30, /block 0 at byte 16: block header checksum mismatch/],
      [100, /compressed data checksum mismatch/],
      [-1, /compressed data checksum mismatch/],
    ] as const) {
      await flip(SEG, at);
      const r = await verifyStore(store);
      expect(r.ok).toBe(false);
      expect(kinds(r.findings)).toEqual([`sha-mismatch ${SEG}`]);
      expect(r.findings[0]!.message).toMatch(where);
      expect(r.findings[0]).toMatchObject({ backup: FULL, stream: 'kafka/payments/0' });
      await flip(SEG, at); // back
    }
    expect((await verifyStore(store)).ok).toBe(true);
  });

  it('whole: the segments read in full with no finding, by key and SHA-256; not a damaged one, nor any when no data is read', async () => {
    const { manifest } = await loadManifest(store, FULL);
    const entries = manifest.streams.flatMap((s) => s.segments);
    const clean = await verifyStore(store, { id: FULL });
    expect(entries.length).toBeGreaterThan(1);
    for (const g of entries) expect(clean.whole.has(g), g.key).toBe(true);
    expect(clean.whole.has({ key: SEG, sha256: '0'.repeat(64) })).toBe(false);
    await flip(SEG, -1);
    const damaged = await verifyStore(store, { id: FULL });
    for (const g of entries) expect(damaged.whole.has(g), g.key).toBe(g.key !== SEG);
    expect((await verifyStore(store, { id: FULL, readData: false })).whole.size).toBe(0);
  });

  it('worker: true (a worker decompresses and CRC-checks the blocks) gives the same result and findings, byte after byte flipped', async () => {
    const size = (await readFile(file(SEG))).length;
    expect(await verifyStore(store, { worker: true })).toEqual(await verifyStore(store));
    let failed = 0;
    for (let at = 3; at < size; at += 53) {
      await flip(SEG, at);
      const want = await verifyStore(store);
      if (!want.ok) failed++;
      expect(await verifyStore(store, { worker: true }), `byte ${at}`).toEqual(want);
      await flip(SEG, at); // back
    }
    expect(failed).toBeGreaterThan(size / 53 - 2);
  }, 60_000);

  it('the reader refuses a damaged segment with an integrity error naming it', async () => {
    await flip(SEG2, 200);
    const { manifest } = await loadManifest(store, INC);
    const read = async () => {
      for await (const _ of readStream(store, manifest.streams[0]!)) void _;
    };
    await expect(read()).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(`segment ${SEG2}: SHA-256`) });
  });

  it('a truncated segment: size-mismatch', async () => {
    const size = (await readFile(file(SEG))).length;
    await truncate(file(SEG), size - 10);
    const r = await verifyStore(store);
    expect(kinds(r.findings)).toEqual([`size-mismatch ${SEG}`]);
    expect(r.findings[0]!.message).toMatch(/runs past the end of the segment/);
  });

  it('a segment cut at a block boundary: size-mismatch', async () => {
    // keep only the segment header: all blocks gone
    await truncate(file(SEG), 16);
    const r = await verifyStore(store);
    expect(kinds(r.findings)).toEqual([`size-mismatch ${SEG}`]);
  });

  it('a deleted segment: missing-segment', async () => {
    await unlink(file(SEG));
    const r = await verifyStore(store);
    expect(kinds(r.findings)).toEqual([`missing-segment ${SEG}`]);
  });

  it('a removed parent manifest: missing-parent (and its segments become unreferenced warnings)', async () => {
    await unlink(file(`manifests/${FULL}.json`));
    const r = await verifyStore(store);
    expect(r.ok).toBe(false);
    expect(kinds(r.findings)).toEqual([`missing-parent manifests/${FULL}.json`]);
    expect(r.findings.filter((f) => f.kind === 'unreferenced-segment').length).toBe(4);
    await expect(resolveChain(store, INC)).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining(`parent ${FULL} is missing`) });
    // verifying only the incremental finds the same
    const one = await verifyStore(store, { id: INC });
    expect(kinds(one.findings)).toEqual([`missing-parent manifests/${FULL}.json`]);
  });

  it('a flipped byte in a manifest: invalid-manifest', async () => {
    for (const id of [INC, FULL, RABBIT]) {
      const key = `manifests/${id}.json`;
      const text = await readFile(file(key), 'utf8');
      // in a value that still parses: the checksum catches it
      const at = text.indexOf('"version": "0.1.0"') + 12;
      await flip(key, at);
      const r = await verifyStore(store);
      expect(kinds(r.findings)).toEqual([`invalid-manifest ${key}`]);
      expect(r.findings[0]!.message).toMatch(/checksum mismatch/);
      await flip(key, at);
      // in whitespace: not canonical
      await flip(key, text.indexOf('\n') + 1);
      expect(kinds((await verifyStore(store)).findings)).toEqual([`invalid-manifest ${key}`]);
      await flip(key, text.indexOf('\n') + 1);
    }
  });

  it('a parent manifest rewritten with a valid checksum: parent-hash-mismatch', async () => {
    await rewriteManifest(FULL, (m) => m.warnings.push('edited'));
    const r = await verifyStore(store);
    expect(kinds(r.findings)).toEqual([`parent-hash-mismatch manifests/${FULL}.json`]);
    await expect(resolveChain(store, 'latest', { chainKey: 'kafka:fixture-cluster:orders,payments' })).rejects.toMatchObject({ code: 'integrity' });
  });

  it('counts and positions that disagree with the segment: count-mismatch, position-mismatch', async () => {
    await rewriteManifest(RABBIT, (m) => {
      const s = m.streams[0]!;
      s.segments[0]!.records -= 1;
      s.records -= 1;
      s.segments[1]!.lastTimestamp = 1;
      s.segments[2]!.firstPosition = '6';
      s.segments[2]!.lastPosition = '6';
      s.to = '7';
    });
    const r = await verifyStore(store);
    expect(kinds(r.findings).sort()).toEqual([
      `count-mismatch segments/${RABBIT}/0000/0000000000.seg`,
      `position-mismatch segments/${RABBIT}/0000/0000000001.seg`,
      `position-mismatch segments/${RABBIT}/0000/0000000002.seg`,
    ]);
  });

  it('a newer format version: unsupported-version, and the reader says to upgrade', async () => {
    const key = `manifests/${RABBIT}.json`;
    await writeFile(file(key), (await readFile(file(key), 'utf8')).replace('"version": 2', '"version": 5'));
    const r = await verifyStore(store);
    expect(kinds(r.findings)).toEqual([`unsupported-version ${key}`]);
    await expect(loadManifest(store, RABBIT)).rejects.toMatchObject({ code: 'unsupported', hint: expect.stringMatching(/upgrade mqbak/) });
  });

  it('several kinds of damage at once are all reported', async () => {
    await unlink(file(SEG));
    await flip(SEG2, 50);
    await rewriteManifest(RABBIT, (m) => (m.streams[0]!.segments[0]!.bytes += 1));
    const r = await verifyStore(store);
    expect(kinds(r.findings).sort()).toEqual([`missing-segment ${SEG}`, `sha-mismatch ${SEG2}`, `size-mismatch segments/${RABBIT}/0000/0000000000.seg`]);
  });

  it('a segment left by an interrupted backup is a warning, not a failure', async () => {
    await store.put('segments/20261125T040000000Z-ffffff/0000/0000000000.seg', new Uint8Array([1, 2, 3]));
    await store.put('segments/stray', new Uint8Array([1]));
    const r = await verifyStore(store);
    expect(r.ok).toBe(true);
    expect(r.findings.map((f) => `${f.severity} ${f.kind} ${f.key}`)).toEqual([
      'warning unreferenced-segment segments/20261125T040000000Z-ffffff/0000/0000000000.seg',
      'warning unknown-object segments/stray',
    ]);
  });

  it('a segment key outside its backup (../, another backup\'s folder): invalid-manifest, and nothing is read there', async () => {
    const other = `segments/${INC}/0000/0000000000.seg`;
    for (const bad of [`segments/${FULL}/../../../etc/passwd`, `segments/${FULL}/0000/./0000000000.seg`, other]) {
      await rm(dir, { recursive: true, force: true });
      await cp(FIXTURE, dir, { recursive: true });
      await rewriteManifest(FULL, (m) => {
        m.streams[0]!.segments[0]!.key = bad;
      });
      for (const readData of [true, false]) {
        const r = await verifyStore(store, { id: FULL, readData });
        expect(r.ok).toBe(false);
        expect(kinds(r.findings)).toEqual([`invalid-manifest manifests/${FULL}.json`]);
        expect(errors(r.findings)[0]!.message).toBe(`backup ${FULL}: segment key ${JSON.stringify(bad)} is outside the backup's own segments/${FULL}/`);
      }
    }
  });

  it('readData false (restore --preflight sizes): presence and listed size only; streams limits the segments', async () => {
    await flip(SEG, 100);
    const sizes = await verifyStore(store, { id: FULL, readData: false });
    expect(sizes.ok).toBe(true);
    expect(sizes.checked).toMatchObject({ subset: 'none', segments: 0, segmentsNotRead: 4 });
    await truncate(file(SEG), 100);
    expect(kinds((await verifyStore(store, { id: FULL, readData: false })).findings)).toEqual([`size-mismatch ${SEG}`]);
    // the damaged stream left out: nothing to find
    const other = await verifyStore(store, { id: FULL, streams: new Set(['kafka/orders/0']) });
    expect(other.ok).toBe(true);
    expect(other.checked.segments).toBe(2);
  });

  it('an unknown backup id or an empty store: not-found', async () => {
    await expect(verifyStore(store, { id: '20261125T050000000Z-000000' })).rejects.toMatchObject({ code: 'not-found' });
    await expect(verifyStore(new LocalStore(join(dir, 'empty')))).rejects.toMatchObject({ code: 'not-found' });
  });
});

describe('property: any flipped byte anywhere in the fixture fails verify', () => {
  let dir: string;
  let objects: Array<{ key: string; size: number }>;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-prop-'));
    await cp(FIXTURE, dir, { recursive: true });
    objects = [];
    for await (const o of new LocalStore(dir).list('')) objects.push(o);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  // heavy (300 verify runs): the default 5 s is too short on a loaded machine
  it('never ok, never anything but findings', async () => {
    const store = new LocalStore(dir);
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.nat(), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.integer({ min: 1, max: 255 }), async (which, where, mask) => {
        const o = objects[which % objects.length]!;
        const path = join(dir, ...o.key.split('/'));
        const original = await readFile(path);
        const at = Math.floor(where * original.length);
        const damaged = Buffer.from(original);
        damaged[at] = damaged[at]! ^ mask;
        await writeFile(path, damaged);
        try {
          let result;
          try {
            result = await verifyStore(store);
          } catch (e) {
            // the only acceptable throw: the damage made the last manifest unreadable AND... no:
            // verify reports, it does not throw, on damage
            throw new Error(`verify threw on ${o.key}@${at}: ${isMqbakError(e) ? `${e.code} ${e.message}` : String(e)}`);
          }
          expect(result.ok, `${o.key}@${at}^${mask}`).toBe(false);
          const errs = errors(result.findings);
          expect(errs.length).toBeGreaterThan(0);
          for (const f of errs) seen.add(f.kind);
        } finally {
          await writeFile(path, original);
        }
      }),
      { numRuns: 300 },
    );
    expect(seen.has('sha-mismatch')).toBe(true);
    expect(seen.has('invalid-manifest')).toBe(true);
    expect((await verifyStore(store)).ok).toBe(true);
  }, 60_000);
});

describe('list with a damaged manifest', () => {
  it('lists it with its error, the others normally', async () => {
    const { listSummaries } = await import('../../../src/core/inspect.js');
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-list-'));
    try {
      await cp(FIXTURE, dir, { recursive: true });
      const key = join(dir, 'manifests', `${FULL}.json`);
      const b = await readFile(key);
      b[300] = b[300]! ^ 0x20;
      await writeFile(key, b);
      const list = await listSummaries(new LocalStore(dir));
      expect(list.map((s) => [s.id, s.kind, s.error === undefined ? null : 'error', s.chain])).toEqual([
        [FULL, null, 'error', null],
        [INC, 'incremental', null, null], // its chain is broken
        [RABBIT, 'full', null, RABBIT],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
