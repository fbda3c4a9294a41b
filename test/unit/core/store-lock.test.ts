import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, listLocks, removeStaleLocks } from '../../../src/core/store-lock.js';
import { LocalStore } from '../../../src/stores/local.js';
import { lockKey } from '../../../src/archive/keys.js';

async function store(): Promise<LocalStore> {
  return new LocalStore(await mkdtemp(join(tmpdir(), 'mqbak-lock-')));
}

describe('store locks', () => {
  it('shared locks coexist; an exclusive one waits for them all, and they for it', async () => {
    const s = await store();
    const a = await acquireLock(s, 'shared', { command: 'backup' });
    const b = await acquireLock(s, 'shared', { command: 'restore' });
    await expect(acquireLock(s, 'exclusive', { command: 'prune' })).rejects.toThrow(/is locked: a shared lock of mqbak (backup|restore) on .* \(pid \d+\)/);
    await a.release();
    await expect(acquireLock(s, 'exclusive', { command: 'prune' })).rejects.toMatchObject({ code: 'unreachable' });
    await b.release();
    const x = await acquireLock(s, 'exclusive', { command: 'prune' });
    await expect(acquireLock(s, 'shared', { command: 'backup' })).rejects.toThrow(/an exclusive lock of mqbak prune/);
    await expect(acquireLock(s, 'exclusive', { command: 'forget' })).rejects.toThrow(/an exclusive lock/);
    await x.release();
    expect(await listLocks(s)).toEqual([]);
  });

  it('a refused attempt leaves no lock of its own behind', async () => {
    const s = await store();
    const x = await acquireLock(s, 'exclusive', { command: 'prune' });
    await acquireLock(s, 'shared', { command: 'backup' }).catch(() => {});
    expect((await listLocks(s)).map((l) => l.key)).toEqual([x.key]);
    await x.release();
  });

  it('with a wait, a conflicting lock is waited for (said once) and the lock is taken when it goes', async () => {
    const s = await store();
    const x = await acquireLock(s, 'exclusive', { command: 'prune' });
    const waits: string[] = [];
    const pending = acquireLock(s, 'shared', { command: 'backup', waitMs: 10_000, onWait: (w) => waits.push(w) });
    await new Promise((r) => setTimeout(r, 700));
    await x.release();
    const b = await pending;
    expect(waits).toHaveLength(1);
    expect(waits[0]).toMatch(/^waiting up to \d+ s for an exclusive lock of mqbak prune/);
    expect((await listLocks(s)).map((l) => l.key)).toEqual([b.key]);
    // the lock says when it was taken, after the wait
    expect(Date.parse(b.info.createdAt)).toBeGreaterThan(Date.parse(x.info.createdAt) + 500);
    await b.release();
  });

  it('a wait that runs out refuses, leaving no lock behind; an abort ends the wait as interrupted', async () => {
    const s = await store();
    const x = await acquireLock(s, 'exclusive', { command: 'prune' });
    await expect(acquireLock(s, 'shared', { command: 'backup', waitMs: 500 })).rejects.toThrow(/is locked: an exclusive lock of mqbak prune/);
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 300);
    await expect(acquireLock(s, 'shared', { command: 'backup', waitMs: 60_000, signal: abort.signal })).rejects.toMatchObject({ code: 'interrupted' });
    expect((await listLocks(s)).map((l) => l.key)).toEqual([x.key]);
    await x.release();
  });

  it('two exclusive takers racing with a wait both end up holding it, one after the other', async () => {
    const s = await store();
    const order: string[] = [];
    const take = async (name: string) => {
      const l = await acquireLock(s, 'exclusive', { command: name, waitMs: 20_000 });
      order.push(`${name}+`);
      // while held, nobody else holds a lock
      expect((await listLocks(s)).map((x) => x.key)).toEqual([l.key]);
      await new Promise((r) => setTimeout(r, 100));
      order.push(`${name}-`);
      await l.release();
    };
    await Promise.all([take('forget'), take('prune'), take('forget'), take('prune')]);
    expect(order).toHaveLength(8);
    for (let i = 0; i < 8; i += 2) expect(order[i + 1]).toBe(order[i]!.replace('+', '-'));
  }, 30_000);

  it('a lock not refreshed for the stale time is ignored, and unlock removes it', async () => {
    const s = await store();
    let t = Date.parse('2026-12-04T10:00:00Z');
    const now = () => t;
    const dead = await acquireLock(s, 'exclusive', { command: 'prune', now, refreshMs: 3_600_000 });
    t += 31 * 60_000;
    const live = await acquireLock(s, 'shared', { command: 'backup', now });
    expect(await removeStaleLocks(s, { now })).toEqual([dead.key]);
    expect((await listLocks(s)).map((l) => l.key)).toEqual([live.key]);
    await live.release();
  });

  it('the lock of a process of this host that no longer runs is stale at once', async () => {
    const s = await store();
    const { spawnSync } = await import('node:child_process');
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(gone.stdout);
    const { hostname } = await import('node:os');
    const at = new Date().toISOString();
    await s.put(lockKey('dead'), new TextEncoder().encode(JSON.stringify({ kind: 'exclusive', command: 'prune', host: hostname(), pid, createdAt: at, refreshedAt: at })));
    await s.put(lockKey('elsewhere'), new TextEncoder().encode(JSON.stringify({ kind: 'shared', command: 'backup', host: 'another-host', pid, createdAt: at, refreshedAt: at })));
    const l = await acquireLock(s, 'shared', { command: 'backup' });
    await l.release();
    // the shared lock of another host still counts; the dead process's exclusive one does not
    await expect(acquireLock(s, 'exclusive', { command: 'prune' })).rejects.toThrow(/a shared lock of mqbak backup on another-host/);
    expect(await removeStaleLocks(s)).toEqual([lockKey('dead')]);
  });

  it('an unreadable lock object counts as held until removed', async () => {
    const s = await store();
    await s.put(lockKey('garbage'), new TextEncoder().encode('not json'));
    await expect(acquireLock(s, 'shared', { command: 'backup' })).rejects.toThrow(/an unreadable lock locks\/garbage\.json/);
    expect(await removeStaleLocks(s)).toEqual([]);
    expect(await removeStaleLocks(s, { all: true })).toEqual([lockKey('garbage')]);
    const l = await acquireLock(s, 'shared', { command: 'backup' });
    await l.release();
  });

  it('the holder refreshes its lock by writing a new object and deleting the old', async () => {
    const s = await store();
    let t = Date.parse('2026-12-04T10:00:00Z');
    const l = await acquireLock(s, 'shared', { command: 'backup', refreshMs: 30, now: () => (t += 1000) });
    const first = l.key;
    // between writing the new object and deleting the old, both exist for a moment
    let locks = await listLocks(s);
    for (let i = 0; i < 100 && (locks.length !== 1 || locks[0]!.key === first); i++) {
      await new Promise((r) => setTimeout(r, 20));
      locks = await listLocks(s);
    }
    expect(locks).toHaveLength(1);
    expect(locks[0]!.key).not.toBe(first);
    expect(Date.parse(locks[0]!.info!.refreshedAt)).toBeGreaterThan(Date.parse(l.info.createdAt));
    await l.release();
    expect(await listLocks(s)).toEqual([]);
  });
});
