/**
 * `mqbak prune`: deletes what no remaining manifest needs (docs/RETENTION.md). Under an exclusive
 * lock; segments only, never a manifest; a prune killed at any instant leaves every backup as it
 * was, and what it did not delete yet for the next prune.
 */
import { SEGMENTS_PREFIX } from '../archive/keys.js';
import { throwIfAborted, withContext } from '../common/errors.js';
import { silentProgress, type Progress } from '../common/progress.js';
import type { Store } from '../stores/store.js';
import { listBackups } from './backup-reader.js';
import { planPrune, type ListedObject, type PrunePlan } from './prune-plan.js';
import { acquireLock } from './store-lock.js';

export const DEFAULT_GRACE_MS = 24 * 3_600_000;

export interface PruneOptions {
  store: Store;
  /** Unreferenced segments younger than this are left alone (a backup may still be writing them). */
  graceMs?: number;
  dryRun?: boolean;
  /** Backups the same run forgot (forget --prune): their segments go without the grace period. */
  forgotten?: ReadonlySet<string>;
  /** Set by forget --prune, which already holds the exclusive lock. */
  locked?: boolean;
  now?: () => number;
  /** How long to wait for another process's conflicting store lock before refusing (default 0). */
  lockWaitMs?: number;
  signal?: AbortSignal;
  progress?: Progress;
}

export interface PruneResult {
  dryRun: boolean;
  plan: PrunePlan;
  /** Segments deleted (all of plan.delete unless interrupted or failed). */
  deleted: number;
  freedBytes: number;
}

export async function prune(o: PruneOptions): Promise<PruneResult> {
  const progress = o.progress ?? silentProgress;
  const lock = o.dryRun || o.locked ? null : await acquireLock(o.store, 'exclusive', { command: 'prune', signal: o.signal, waitMs: o.lockWaitMs, onWait: (w) => progress.info(w) });
  try {
    progress.phase(`reading the manifests of ${o.store.description}`);
    const referenced = new Set<string>();
    for (const b of await listBackups(o.store, { signal: o.signal })) {
      // forget --prune --dry-run: the forgotten manifests are still there, but count as gone
      if (o.forgotten?.has(b.manifest.id)) continue;
      for (const s of b.manifest.streams) for (const seg of s.segments) referenced.add(seg.key);
    }
    progress.phase('listing segments');
    const segments: ListedObject[] = [];
    try {
      for await (const obj of o.store.list(SEGMENTS_PREFIX, { signal: o.signal })) segments.push({ key: obj.key, size: obj.size, modified: obj.modified ?? null });
    } catch (e) {
      throw withContext(e, `list segments in ${o.store.description}`, 'unreachable');
    }
    const plan = planPrune({ referenced, segments, forgotten: o.forgotten ?? new Set(), now: (o.now ?? Date.now)(), graceMs: o.graceMs ?? DEFAULT_GRACE_MS });
    const result: PruneResult = { dryRun: Boolean(o.dryRun), plan, deleted: 0, freedBytes: 0 };
    if (o.dryRun) return result;
    const sizes = new Map(segments.map((s) => [s.key, s.size]));
    progress.phase(`deleting ${plan.delete.length} segment(s)`);
    for (const key of plan.delete) {
      throwIfAborted(o.signal);
      try {
        await o.store.delete(key, { signal: o.signal });
      } catch (e) {
        throw withContext(e, `delete ${key}`, 'unreachable');
      }
      result.deleted++;
      result.freedBytes += sizes.get(key) ?? 0;
      progress.update({ records: result.deleted, total: plan.delete.length, bytes: result.freedBytes });
    }
    return result;
  } finally {
    await lock?.release();
  }
}
