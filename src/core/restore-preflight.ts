/**
 * restore's preflight (docs/ARCHITECTURE.md, "A restore"): before the first record is
 * published, the chain a restore replays is checked as `verify` checks it (verify.ts, one
 * backup and its chain, only the streams the restore selected). `full` (the default) reads every
 * segment and checks its size, SHA-256, blocks and records; `sizes` checks only that each segment
 * is present with the manifest's size (one listing per backup, no data read). Any error finding
 * stops the restore before anything is created or published on the target. What `full` read
 * whole and found nothing wrong with is returned (CheckedSegments, backup-reader.ts): the restore's
 * own read of those bytes then leaves out the checks that would give the same answer again.
 * From a remote store, `full` also keeps a local copy of each segment it downloads, which the
 * restore's write pass then reads instead of downloading it again (restore-copies.ts).
 */
import { MqbakError } from '../common/errors.js';
import type { Progress } from '../common/progress.js';
import type { Store } from '../stores/store.js';
import { attachCopies, SegmentCopies } from './restore-copies.js';
import { withGet } from './restore-read-ahead.js';
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
 * returns the segments it read whole (none with `sizes`), by key and SHA-256. With `full` from a
 * remote store, the segments read whole are also left as local copies for the write pass
 * (attachCopies), where the temporary folder has room for them.
 */
export async function preflight(store: Store, plan: RestorePlan, mode: PreflightMode, signal: AbortSignal, progress: Progress): Promise<CheckedSegments> {
  progress.phase(`checking backup ${plan.backupId} and its chain before restoring (--preflight ${mode})`);
  const streams = new Set(plan.streams.map((s) => s.name));
  const segments = plan.streams.flatMap((s) => s.parts.flatMap((p) => p.stream.segments));
  const copies = mode === 'full' && store.remote ? await SegmentCopies.create(segments.reduce((n, g) => n + g.bytes, 0)) : null;
  const read = copies === null ? store : copying(store, new Set(segments.map((g) => g.key)), copies);
  let r: Awaited<ReturnType<typeof verifyStore>>;
  try {
    // with a second core, a worker decompresses while this thread checks (the broker waits meanwhile)
    r = await verifyStore(read, { id: plan.backupId, streams, readData: mode === 'full', signal, progress, worker: true });
  } catch (e) {
    await copies?.dispose();
    throw e;
  }
  const errors = r.findings.filter((f) => f.severity === 'error');
  if (errors.length === 0) {
    if (copies !== null) {
      // only what passed every check is worth reading back; the rest is downloaded again
      for (const g of segments) if (!r.whole.has(g)) copies.drop(g.key);
      attachCopies(store, copies);
    }
    return r.whole;
  }
  await copies?.dispose();
  throw new PreflightFailed(
    errors,
    `backup ${plan.backupId}: ${errors.length} integrity finding${errors.length === 1 ? '' : 's'} in what the restore would replay (listed above); nothing was restored`,
    `mqbak verify <store> ${plan.backupId} lists the same findings; restore another backup (--backup <id>) or repair the store`,
  );
}

/**
 * `store`, with a copy kept of every whole read of `keys`; everything else goes to `store` as it
 * is. A read waits for the copy before it to be written, so at most one copy's bytes wait for the
 * disk besides those the preflight holds itself.
 */
function copying(store: Store, keys: ReadonlySet<string>, copies: SegmentCopies): Store {
  let writing: Promise<void> = Promise.resolve();
  return withGet(store, async (key, options) => {
    const bytes = await store.get(key, options);
    if (options?.range === undefined && keys.has(key)) {
      await writing;
      writing = copies.keep(key, bytes);
    }
    return bytes;
  });
}
