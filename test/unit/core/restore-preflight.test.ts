/**
 * The preflight of a restore (src/core/restore-preflight.ts) from a remote store: `full` leaves a
 * local copy of each segment it read whole, which the write pass's view (restore-read-ahead.ts)
 * reads instead of the store; `sizes` and damage leave none.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentProgress } from '../../../src/common/progress.js';
import { openBackupWriter } from '../../../src/core/backup-writer.js';
import { resolveChain, readStreamColumns } from '../../../src/core/backup-reader.js';
import { copiesOf } from '../../../src/core/restore-copies.js';
import { preflight, PreflightFailed } from '../../../src/core/restore-preflight.js';
import { planRestore, type RestorePlan } from '../../../src/core/restore-planner.js';
import { readingAhead } from '../../../src/core/restore-read-ahead.js';
import { LocalStore } from '../../../src/stores/local.js';
import type { Store } from '../../../src/stores/store.js';
import { testAdapter } from '../../helpers/test-adapter.js';

let dir: string;
let local: LocalStore;
/** Every whole get of a segment that reached the store. */
let asked: string[];
/** The local store, said to be remote, with its segment reads counted. */
let remote: Store;
let plan: RestorePlan;

const signal = new AbortController().signal;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mqbak-preflight-'));
  local = new LocalStore(dir);
  const w = await openBackupWriter({ store: local, kind: 'full', parent: null, source: { broker: 'test', url: 'test://src', chainKey: 'k', options: {} }, toolVersion: 'test', blockSize: 1024, segmentSize: 8 * 1024 });
  for (const name of ['a', 'b']) {
    const s = w.openStream({ name, address: { stream: name }, from: 0n });
    for (let p = 0n; p < 200n; p++) await s.append({ position: p, timestamp: Number(p), timestampType: null, key: null, value: Uint8Array.from({ length: 100 }, (_, i) => (Number(p) * 7 + i * 13) & 0xff), headers: [], attributes: null });
    await s.close(200n);
  }
  await w.commit();
  asked = [];
  remote = Object.assign(Object.create(local) as Store, {
    remote: true,
    get: (key: string, options?: Parameters<Store['get']>[1]) => {
      if (key.startsWith('segments/') && options?.range === undefined) asked.push(key);
      return local.get(key, options);
    },
  });
  const chain = await resolveChain(local, 'latest');
  plan = planRestore(
    chain.map((c) => c.manifest),
    testAdapter({}),
  );
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const keysOf = (p: RestorePlan) => p.streams.flatMap((s) => s.parts.flatMap((x) => x.stream.segments.map((g) => g.key)));

describe('preflight from a remote store', () => {
  it('full: every segment is downloaded once; the write pass reads the local copies, checked as any read', async () => {
    const keys = keysOf(plan);
    expect(keys.length).toBeGreaterThan(4);
    const checked = await preflight(remote, plan, 'full', signal, silentProgress);
    expect(checked.size).toBe(keys.length);
    expect([...asked].sort()).toEqual([...keys].sort());
    const copies = copiesOf(remote)!;
    expect(copies).not.toBeNull();
    for (const k of keys) expect(copies.has(k)).toBe(true);
    asked = [];
    let records = 0;
    for (const s of plan.streams) {
      const view = readingAhead(remote, s.parts.flatMap((p) => p.stream.segments.map((g) => g.key)), signal, () => true);
      for (const part of s.parts) for await (const cols of readStreamColumns(view, part.stream, { signal, checked })) records += cols.count;
    }
    expect(records).toBe(400);
    // nothing downloaded a second time, and no copy is left
    expect(asked).toEqual([]);
    await expect(readdir(copies.dir)).rejects.toThrow();
  });

  it('a copy changed after the preflight is refused by its SHA-256, as a changed object would be', async () => {
    const checked = await preflight(remote, plan, 'full', signal, silentProgress);
    const copies = copiesOf(remote)!;
    const files = await readdir(copies.dir);
    for (const f of files) await writeFile(join(copies.dir, f), new Uint8Array(0));
    const s = plan.streams[0]!;
    const view = readingAhead(remote, s.parts.flatMap((p) => p.stream.segments.map((g) => g.key)), signal, () => false);
    await expect(
      (async () => {
        for (const part of s.parts) for await (const _ of readStreamColumns(view, part.stream, { signal, checked }));
      })(),
    ).rejects.toThrow(/bytes, manifest says/);
    // the restore stopped: what it did not read is left for the exit, or removed by its owner
    await copies.dispose();
    await expect(readdir(copies.dir)).rejects.toThrow();
  });

  it('sizes: no data read, no copies', async () => {
    await preflight(remote, plan, 'sizes', signal, silentProgress);
    expect(asked).toEqual([]);
    expect(copiesOf(remote)).toBeNull();
  });

  it('damage: the preflight fails and leaves no copies', async () => {
    const key = keysOf(plan)[1]!;
    const bytes = await local.get(key);
    bytes[bytes.length - 1]! ^= 0xff;
    await writeFile(join(dir, key), bytes);
    // copies are made in the temporary folder: a private one here
    const tmp = join(dir, 'tmp');
    await mkdir(tmp);
    const was = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      await expect(preflight(remote, plan, 'full', signal, silentProgress)).rejects.toBeInstanceOf(PreflightFailed);
    } finally {
      if (was === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = was;
    }
    expect(copiesOf(remote)).toBeNull();
    expect(await readdir(tmp)).toEqual([]);
  });

  it('from a local store: no copies', async () => {
    await preflight(local, plan, 'full', signal, silentProgress);
    expect(copiesOf(local)).toBeNull();
  });
});
