/**
 * Advisory locks in the store, after restic's model (docs/RETENTION.md, "Locks"): backup and
 * restore take a shared lock, forget and prune an exclusive one. A lock is an object
 * locks/<name>.json written once; a holder refreshes it by writing a new one and deleting the old,
 * since objects are never modified. A lock not refreshed for `staleMs` belongs to a process that
 * died: it is ignored (and left for `mqbak unlock`), and so at once is the lock of a process of
 * this host that no longer runs.
 *
 * Taking a lock: write it, then list every lock; if one that conflicts is live, delete ours and
 * wait for it (up to `waitMs`, then refuse). Two processes racing both see each other and both
 * step back: safe, never both granted, as long as the store lists an object once its put has
 * returned (local folders; S3, which is strongly consistent since 2020; see docs/S3.md for
 * servers that are not). Their waits are drawn at random, so one of them gets it on a later try.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { LOCKS_PREFIX, lockKey } from '../archive/keys.js';
import { sleepUnlessAborted } from '../common/abort.js';
import { MqbakError, messageOf, withContext } from '../common/errors.js';
import type { Store } from '../stores/store.js';

export type LockKind = 'shared' | 'exclusive';

export interface LockInfo {
  kind: LockKind;
  /** The mqbak command holding it: backup, restore, forget, prune. */
  command: string;
  host: string;
  pid: number;
  /** ISO 8601 */
  createdAt: string;
  refreshedAt: string;
}

export interface HeldLock {
  readonly key: string;
  readonly info: LockInfo;
  /** Deletes the lock; refreshing stops. Never throws. */
  release(): Promise<void>;
}

export interface LockOptions {
  command: string;
  /**
   * For commands that only read the store (restore): when the lock cannot be written at all (a
   * read-only folder or bucket), go on without one and say so through this callback. A lock held
   * by another process still refuses.
   */
  withoutLockIfReadOnly?: (why: string) => void;
  /** A lock older than this without a refresh is ignored. Default 30 min. */
  staleMs?: number;
  /** How often the holder refreshes it. Default 5 min. */
  refreshMs?: number;
  /** How long to wait for a conflicting lock to go away before refusing. Default 0: refuse at once. */
  waitMs?: number;
  /** Told once, when a conflicting lock makes this process wait (what holds the store). */
  onWait?: (holder: string) => void;
  now?: () => number;
  signal?: AbortSignal;
}

const DEFAULT_STALE_MS = 30 * 60_000;
const DEFAULT_REFRESH_MS = 5 * 60_000;
/** Between two looks at a held store: at random in [MIN, 2 x MIN), doubling up to MAX. */
const WAIT_MIN_MS = 200;
const WAIT_MAX_MS = 5_000;

function conflicts(mine: LockKind, theirs: LockKind): boolean {
  return mine === 'exclusive' || theirs === 'exclusive';
}

/** Every lock in the store with its key; a lock that cannot be read counts as a live exclusive one. */
export async function listLocks(store: Store, signal?: AbortSignal): Promise<Array<{ key: string; info: LockInfo | null }>> {
  const out: Array<{ key: string; info: LockInfo | null }> = [];
  for await (const o of store.list(LOCKS_PREFIX, { signal })) {
    let info: LockInfo | null = null;
    try {
      info = parseLock(await store.get(o.key, { signal }));
    } catch (e) {
      // deleted between the listing and the read: released meanwhile
      if (e instanceof MqbakError && e.code === 'not-found') continue;
    }
    out.push({ key: o.key, info });
  }
  return out;
}

function parseLock(bytes: Uint8Array): LockInfo | null {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes)) as Partial<LockInfo>;
    if ((v.kind === 'shared' || v.kind === 'exclusive') && typeof v.refreshedAt === 'string' && !Number.isNaN(Date.parse(v.refreshedAt))) {
      return { kind: v.kind, command: String(v.command), host: String(v.host), pid: Number(v.pid), createdAt: String(v.createdAt), refreshedAt: v.refreshedAt };
    }
  } catch {
    // not JSON: treated as held, below
  }
  return null;
}

/** Whether a process of this host with this pid runs (a lock of a dead process is stale at once). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock counts until it goes unrefreshed for staleMs; one of a process of this same host that no
 * longer runs (killed, crashed) is stale at once, as restic does it.
 */
function isLive(info: LockInfo | null, now: number, staleMs: number): boolean {
  if (info === null) return true;
  if (info.host === hostname() && info.pid !== process.pid && !processRuns(info.pid)) return false;
  return now - Date.parse(info.refreshedAt) < staleMs;
}

function describeHolder(key: string, info: LockInfo | null): string {
  if (info === null) return `an unreadable lock ${key}`;
  return `${info.kind === 'exclusive' ? 'an exclusive' : 'a shared'} lock of mqbak ${info.command} on ${info.host} (pid ${info.pid}) since ${info.createdAt}`;
}

async function putLock(store: Store, info: LockInfo, signal?: AbortSignal): Promise<string> {
  const key = lockKey(`${info.refreshedAt.replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`);
  await store.put(key, new TextEncoder().encode(`${JSON.stringify(info)}\n`), { signal });
  return key;
}

export async function acquireLock(store: Store, kind: LockKind, options: LockOptions): Promise<HeldLock> {
  const now = options.now ?? Date.now;
  const staleMs = options.staleMs ?? DEFAULT_STALE_MS;
  const refreshMs = options.refreshMs ?? DEFAULT_REFRESH_MS;
  const signal = options.signal;
  const info: LockInfo = { kind, command: options.command, host: hostname(), pid: process.pid, createdAt: '', refreshedAt: '' };
  const refuse = (key: string, other: LockInfo | null) =>
    new MqbakError('unreachable', `${store.description} is locked: ${describeHolder(key, other)}`, {
      hint:
        other === null
          ? `look at ${key} in the store; remove it with mqbak unlock once no mqbak runs on the store`
          : `wait for it to finish; a lock not refreshed for ${Math.round(staleMs / 60_000)} min is ignored, and mqbak unlock removes stale ones`,
    });
  const conflicting = async (mine?: string) => {
    for (const l of await listLocks(store, signal)) {
      if (l.key !== mine && isLive(l.info, now(), staleMs) && conflicts(kind, l.info?.kind ?? 'exclusive')) return l;
    }
    return null;
  };
  const deadline = now() + (options.waitMs ?? 0);
  let pause = WAIT_MIN_MS;
  let told = false;
  /** Waits before the next try, or refuses when the time to wait is up. */
  const waitOrRefuse = async (held: { key: string; info: LockInfo | null }) => {
    const ms = Math.min(pause * (1 + Math.random()), deadline - now());
    if (ms <= 0) throw refuse(held.key, held.info);
    if (!told) options.onWait?.(`waiting up to ${Math.ceil((deadline - now()) / 1000)} s for ${describeHolder(held.key, held.info)}`);
    told = true;
    await sleepUnlessAborted(ms, signal);
    pause = Math.min(pause * 2, WAIT_MAX_MS);
  };
  try {
    let key: string;
    for (;;) {
      // a first look saves a write when the answer is already known
      const before = await conflicting();
      if (before) {
        await waitOrRefuse(before);
        continue;
      }
      // the lock says when it was taken, not when this process began to wait for it
      info.createdAt = info.refreshedAt = new Date(now()).toISOString();
      try {
        key = await putLock(store, info, signal);
      } catch (e) {
        if (!options.withoutLockIfReadOnly || (e instanceof MqbakError && e.code === 'interrupted')) throw e;
        options.withoutLockIfReadOnly(`no lock taken on ${store.description} (${messageOf(e)}): a forget or prune elsewhere would not see this run`);
        return { key: '', info, release: async () => {} };
      }
      const after = await conflicting(key);
      if (!after) break;
      await store.delete(key).catch(() => {});
      await waitOrRefuse(after);
    }
    let released = false;
    let refreshing: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      refreshing = refreshing.then(async () => {
        if (released) return;
        const next = { ...info, refreshedAt: new Date(now()).toISOString() };
        try {
          const newKey = await putLock(store, next, undefined);
          const old = key;
          key = newKey;
          await store.delete(old);
        } catch {
          // the next refresh tries again; a lock that goes stale is the other side's to ignore
        }
      });
    }, refreshMs);
    timer.unref();
    return {
      get key() {
        return key;
      },
      info,
      async release() {
        released = true;
        clearInterval(timer);
        await refreshing;
        await store.delete(key).catch(() => {});
      },
    };
  } catch (e) {
    if (e instanceof MqbakError) throw e;
    throw withContext(e, `lock ${store.description}`, 'unreachable');
  }
}

/** Removes locks not refreshed for `staleMs` (all of them with `all`); returns the keys removed. */
export async function removeStaleLocks(store: Store, options: { staleMs?: number; all?: boolean; now?: () => number; signal?: AbortSignal } = {}): Promise<string[]> {
  const now = options.now ?? Date.now;
  const removed: string[] = [];
  for (const l of await listLocks(store, options.signal)) {
    if (!options.all && (l.info === null || isLive(l.info, now(), options.staleMs ?? DEFAULT_STALE_MS))) continue;
    try {
      await store.delete(l.key, { signal: options.signal });
      removed.push(l.key);
    } catch (e) {
      throw new MqbakError('unreachable', `remove lock ${l.key}: ${messageOf(e)}`);
    }
  }
  return removed;
}
