/**
 * `mqbak forget`: removes the manifests of the backups a retention policy does not keep
 * (docs/RETENTION.md). Under an exclusive lock; manifests are deleted newest first, so a forget
 * killed at any instant leaves every remaining backup with its whole chain. Segments are left to
 * prune (`--prune` runs it in the same lock).
 */
import { backupIdTime, manifestKey } from '../archive/keys.js';
import { throwIfAborted, withContext } from '../common/errors.js';
import { silentProgress, type Progress } from '../common/progress.js';
import type { Store } from '../stores/store.js';
import { listBackups } from './backup-reader.js';
import { manifestDeleteOrder } from './prune-plan.js';
import { prune, type PruneResult } from './prune.js';
import { planRetention, type GroupPlan, type RetentionPolicy } from './retention-policy.js';
import { acquireLock } from './store-lock.js';

export interface ForgetOptions {
  store: Store;
  policy: RetentionPolicy;
  dryRun?: boolean;
  /** Also prune, with this grace period, in the same lock. */
  prune?: { graceMs?: number };
  now?: () => number;
  /** How long to wait for another process's conflicting store lock before refusing (default 0). */
  lockWaitMs?: number;
  signal?: AbortSignal;
  progress?: Progress;
}

export interface ForgetResult {
  dryRun: boolean;
  groups: GroupPlan[];
  /** Manifests deleted, newest first. */
  removed: string[];
  pruned: PruneResult | null;
}

export async function forget(o: ForgetOptions): Promise<ForgetResult> {
  const progress = o.progress ?? silentProgress;
  const lock = o.dryRun ? null : await acquireLock(o.store, 'exclusive', { command: 'forget', signal: o.signal, waitMs: o.lockWaitMs, onWait: (w) => progress.info(w) });
  try {
    const backups = await listBackups(o.store, { signal: o.signal });
    const groups = planRetention(
      backups.map((b) => ({
        id: b.manifest.id,
        time: Date.parse(backupIdTime(b.manifest.id)!),
        chainKey: b.manifest.source.chainKey,
        parent: b.manifest.parent?.id ?? null,
      })),
      o.policy,
    );
    const result: ForgetResult = { dryRun: Boolean(o.dryRun), groups, removed: [], pruned: null };
    const toRemove = manifestDeleteOrder(groups.flatMap((g) => g.remove));
    if (!o.dryRun) {
      progress.phase(`forgetting ${toRemove.length} backup(s)`);
      for (const id of toRemove) {
        throwIfAborted(o.signal);
        try {
          await o.store.delete(manifestKey(id), { signal: o.signal });
        } catch (e) {
          throw withContext(e, `delete the manifest of ${id}`, 'unreachable');
        }
        result.removed.push(id);
      }
    }
    if (o.prune) {
      result.pruned = await prune({
        store: o.store,
        graceMs: o.prune.graceMs,
        dryRun: o.dryRun,
        forgotten: new Set(toRemove),
        locked: true,
        now: o.now,
        signal: o.signal,
        progress,
      });
    }
    return result;
  } finally {
    await lock?.release();
  }
}
