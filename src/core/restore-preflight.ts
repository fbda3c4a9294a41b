/**
 * restore's preflight (docs/ARCHITECTURE.md, "A restore"): before the first record is
 * published, the chain a restore replays is checked as `verify` checks it (verify.ts, one
 * backup and its chain, only the streams the restore selected). `full` (the default) reads every
 * segment and checks its size, SHA-256, blocks and records; `sizes` checks only that each segment
 * is present with the manifest's size (one listing per backup, no data read). Any error finding
 * stops the restore before anything is created or published on the target. What `full` read
 * whole and found nothing wrong with is returned (CheckedSegments, backup-reader.ts): the restore's
 * own read of those bytes then leaves out the checks that would give the same answer again.
 */
import { MqbakError } from '../common/errors.js';
import type { Progress } from '../common/progress.js';
import type { Store } from '../stores/store.js';
import type { RestorePlan } from './restore-planner.js';
import type { CheckedSegments } from './backup-reader.js';
import { verifyStore, type Finding } from './verify.js';

export const PREFLIGHT_MODES = ['full', 'sizes'] as const;
export type PreflightMode = (typeof PREFLIGHT_MODES)[number];

/** The preflight found damage: nothing was published. `findings` are the error findings, as verify reports them. */
export class PreflightFailed extends MqbakError {
  constructor(
    readonly findings: readonly Finding[],
    message: string,
    hint: string,
  ) {
    super('integrity', message, { hint });
  }
}

export function parsePreflightMode(text: string): PreflightMode {
  const mode = PREFLIGHT_MODES.find((m) => m === text);
  if (mode === undefined) throw new MqbakError('usage', `--preflight ${text}: expected ${PREFLIGHT_MODES.join(' or ')}`);
  return mode;
}

/**
 * Checks what `plan` will replay; throws PreflightFailed when the store holds damage there, else
 * returns the segments it read whole (none with `sizes`), by key and SHA-256.
 */
export async function preflight(store: Store, plan: RestorePlan, mode: PreflightMode, signal: AbortSignal, progress: Progress): Promise<CheckedSegments> {
  progress.phase(`checking backup ${plan.backupId} and its chain before restoring (--preflight ${mode})`);
  const streams = new Set(plan.streams.map((s) => s.name));
  // with a second core, a worker decompresses while this thread checks (the broker waits meanwhile)
  const r = await verifyStore(store, { id: plan.backupId, streams, readData: mode === 'full', signal, progress, worker: true });
  const errors = r.findings.filter((f) => f.severity === 'error');
  if (errors.length === 0) return r.whole;
  throw new PreflightFailed(
    errors,
    `backup ${plan.backupId}: ${errors.length} integrity finding${errors.length === 1 ? '' : 's'} in what the restore would replay (listed above); nothing was restored`,
    `mqbak verify <store> ${plan.backupId} lists the same findings; restore another backup (--backup <id>) or repair the store`,
  );
}
