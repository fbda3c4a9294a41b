import { cp, mkdtemp, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forget } from '../../../src/core/forget.js';
import { prune } from '../../../src/core/prune.js';
import { openBackupWriter } from '../../../src/core/backup-writer.js';
import { listBackupIds, readStream, resolveChain } from '../../../src/core/backup-reader.js';
import { verifyStore } from '../../../src/core/verify.js';
import { LocalStore } from '../../../src/stores/local.js';
import { manifestKey, newBackupId, segmentKey } from '../../../src/archive/keys.js';
import type { Store } from '../../../src/stores/store.js';

const D = 86_400_000;
const t0 = Date.UTC(2026, 10, 1, 2, 0, 0);

/** Backups of one stream at days `days` after t0, ten records each; a new full wherever `fulls` says. */
async function chain(store: Store, chainKey: string, days: number[], fulls: ReadonlySet<number>, tag: number): Promise<string[]> {
  const ids: string[] = [];
  let parent: { id: string; sha256: string } | null = null;
  let next = 0n;
  for (const [i, d] of days.entries()) {
    if (fulls.has(i)) {
      parent = null;
      next = 0n;
    }
    const id = newBackupId(new Date(t0 + d * D), `${tag}${i}`.padStart(6, '0'));
    const w = await openBackupWriter({
      store,
      kind: parent ? 'incremental' : 'full',
      parent,
      id,
      now: () => new Date(t0 + d * D),
      source: { broker: 'kafka', url: 'kafka://test', chainKey, options: {} },
      toolVersion: 't',
      segmentSize: 200,
    });
    const s = w.openStream({ name: 'kafka/t/0', address: { topic: 't', partition: 0 }, from: next });
    for (let r = 0; r < 10; r++) {
      await s.append({ position: next, timestamp: t0 + d * D, timestampType: 'create', key: null, value: new TextEncoder().encode(`${chainKey}-${next}`), headers: [], attributes: null });
      next++;
    }
    await s.close(next);
    const c = await w.commit();
    parent = { id: c.manifest.id, sha256: c.sha256 };
    ids.push(id);
  }
  return ids;
}

async function allKeys(store: Store): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list('')) keys.push(o.key);
  return keys.sort();
}

async function newStore(): Promise<LocalStore> {
  return new LocalStore(await mkdtemp(join(tmpdir(), 'mqbak-forget-')));
}

/** Every record of the chain ending at id, as text. */
async function restoreText(store: Store, id: string): Promise<string[]> {
  const out: string[] = [];
  for (const b of await resolveChain(store, id)) for (const s of b.manifest.streams) for await (const r of readStream(store, s)) out.push(new TextDecoder().decode(r.value!));
  return out;
}

describe('forget and prune', () => {
  it('keep-last 1 over two chain groups: the kept backups keep their chains, verify and read back; the rest is gone', async () => {
    const store = await newStore();
    // group a: full + 2 incrementals, then a new full + 1 incremental; group b: three fulls
    const a = await chain(store, 'a', [0, 1, 2, 3, 4], new Set([0, 3]), 1);
    const b = await chain(store, 'b', [0, 1, 2], new Set([0, 1, 2]), 2);
    const before = await restoreText(store, a[4]!);
    const r = await forget({ store, policy: { last: 1 }, prune: {} });
    expect(r.removed).toEqual([b[1]!, a[2]!, a[1]!, b[0]!, a[0]!].sort().reverse());
    expect(await listBackupIds(store)).toEqual([a[3]!, a[4]!, b[2]!].sort());
    expect(r.pruned!.deleted).toBeGreaterThan(0);
    const keys = await allKeys(store);
    for (const id of r.removed) expect(keys.some((k) => k.includes(id))).toBe(false);
    const v = await verifyStore(store);
    expect(v.findings).toEqual([]);
    expect(await restoreText(store, a[4]!)).toEqual(before);
    expect(await listBackupIds(store)).toEqual([a[3]!, a[4]!, b[2]!].sort());
  });

  it('--dry-run changes no object, and says what forget --prune would delete', async () => {
    const store = await newStore();
    await chain(store, 'a', [0, 1, 2], new Set([0, 1, 2]), 3);
    const before = await allKeys(store);
    const r = await forget({ store, policy: { last: 1 }, dryRun: true, prune: {} });
    expect(r.removed).toEqual([]);
    expect(r.groups[0]!.remove).toHaveLength(2);
    expect(r.pruned!.plan.delete.length).toBeGreaterThan(0);
    expect(r.pruned!.deleted).toBe(0);
    expect(await allKeys(store)).toEqual(before);
    const p = await prune({ store, dryRun: true, graceMs: 0 });
    expect(p.plan.delete).toEqual([]);
    expect(await allKeys(store)).toEqual(before);
  });

  it('a segment no manifest refers to is left alone until the grace period has passed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mqbak-forget-'));
    const store = new LocalStore(root);
    await chain(store, 'a', [0], new Set([0]), 4);
    const young = segmentKey(newBackupId(new Date()), 0, 0);
    const old = segmentKey(newBackupId(new Date(Date.now() - 2 * D)), 0, 0);
    await store.put(young, new Uint8Array(10));
    await store.put(old, new Uint8Array(20));
    // written two days ago, as an interrupted backup's segment would have been
    const twoDaysAgo = new Date(Date.now() - 2 * D);
    await utimes(join(root, old), twoDaysAgo, twoDaysAgo);
    const r = await prune({ store });
    expect(r.plan.delete).toEqual([old]);
    expect(r.freedBytes).toBe(20);
    expect(r.plan.young.map((y) => y.key)).toEqual([young]);
    expect(await allKeys(store)).toContain(young);
  });

  it('forget and prune refuse while a backup holds its lock', async () => {
    const store = await newStore();
    await chain(store, 'a', [0, 1], new Set([0, 1]), 5);
    const { acquireLock } = await import('../../../src/core/store-lock.js');
    const held = await acquireLock(store, 'shared', { command: 'backup' });
    await expect(forget({ store, policy: { last: 1 } })).rejects.toThrow(/locked: a shared lock of mqbak backup/);
    await expect(prune({ store })).rejects.toThrow(/locked/);
    await held.release();
    expect((await forget({ store, policy: { last: 1 }, prune: {} })).removed).toHaveLength(1);
  });

  it('killed after any number of deletes, every remaining backup verifies, and the next run finishes the work', async () => {
    const layout = async (store: Store) => {
      await chain(store, 'a', [0, 1, 2, 3, 4], new Set([0, 3]), 6);
      await chain(store, 'b', [0, 1], new Set([0, 1]), 7);
    };
    const reference = await newStore();
    await layout(reference);
    const clean = await forget({ store: reference, policy: { last: 1 }, prune: {} });
    const finalKeys = await allKeys(reference);
    const deletes = clean.removed.length + clean.pruned!.deleted;
    expect(deletes).toBeGreaterThan(8);
    const template = await mkdtemp(join(tmpdir(), 'mqbak-forget-'));
    await layout(new LocalStore(template));
    for (let k = 0; k < deletes; k++) {
      const dir = await mkdtemp(join(tmpdir(), 'mqbak-forget-'));
      await cp(template, dir, { recursive: true });
      const store = new LocalStore(dir);
      // a store that dies after k deletes, as a process killed there would leave it
      let left = k;
      const dying: Store = Object.create(store, {
        delete: {
          value: async (key: string, o?: { signal?: AbortSignal }) => {
            if (left-- <= 0) throw new Error('killed');
            await store.delete(key, o);
          },
        },
      });
      await expect(forget({ store: dying, policy: { last: 1 }, prune: {} })).rejects.toThrow(/killed/);
      const v = await verifyStore(store);
      expect(v.findings.filter((f) => f.severity === 'error')).toEqual([]);
      // the lock of the killed run is still there; a real kill leaves it too, until it is stale
      const { removeStaleLocks } = await import('../../../src/core/store-lock.js');
      await removeStaleLocks(store, { all: true });
      await forget({ store, policy: { last: 1 }, prune: { graceMs: 0 } });
      expect(await allKeys(store)).toEqual(finalKeys);
      expect(await store.stat(manifestKey(clean.removed[0]!))).toBeNull();
    }
  }, 120_000);
});
