/**
 * `restore --check-only` (docs/RESTORE-CHECK.md): the check of an earlier restore, writing
 * nothing. The plan is the restore's (the same backup, selection and renames); without the
 * earlier run's offset runs each target is compared whole, from its first position, so it must
 * hold exactly the restored records in order (a restore into empty targets).
 */
import { checkRestore, type CheckResult } from './restore-check.js';
import { restore, type RestoreOptions } from './restore.js';
import type { RestorePlan } from './restore-planner.js';
import { acquireLock } from './store-lock.js';

export async function checkOnly(o: RestoreOptions): Promise<{ plan: RestorePlan; check: CheckResult }> {
  // the plan and its refusals exactly as the restore's; nothing is written
  const { plan } = await restore({ ...o, dryRun: true, check: false });
  const lock = await acquireLock(o.store, 'shared', { command: 'restore', signal: o.signal, withoutLockIfReadOnly: (why) => o.progress.warn(why) });
  try {
    const check = await checkRestore(o, { backupId: plan.backupId, metadata: {}, renames: plan.renames, targets: plan.streams }, null);
    for (const w of check.warnings) o.progress.warn(w);
    return { plan, check };
  } finally {
    await lock.release();
  }
}
