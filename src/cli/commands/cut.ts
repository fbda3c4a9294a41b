import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { formatBytes } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';
import { lockWaitOf } from '../options/common.js';
import { TOOL_VERSION } from '../version.js';
import { parseDuration } from '../../core/retention-policy.js';

/** --before: an ISO 8601 time, or a duration counted back from now (90d, 6m, 1y). */
export function cutoffOf(text: string, now: number): number {
  if (/^\d+[ymwdhs]/.test(text.trim())) return now - parseDuration(text, '--before');
  const t = Date.parse(text);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(text.trim())) {
    throw new MqbakError('usage', `--before ${JSON.stringify(text)}: expected an ISO 8601 time (2026-06-01, 2026-06-01T00:00:00Z) or a duration such as 90d`);
  }
  return t;
}

/** mqbak cut <store> --before T: a new full backup of each chain's head without its records older than T. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = ''] = args;
  if (opts.before === undefined) throw new MqbakError('usage', 'cut needs --before: the time before which records are left out', { hint: 'e.g. mqbak cut <store> --before 90d --dry-run' });
  const beforeMs = cutoffOf(String(opts.before), Date.now());
  const dryRun = Boolean(opts.dryRun);
  const lockWaitMs = lockWaitOf(opts);
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  const { cut } = await import('../../core/cut.js');
  try {
    const r = await cut({ store, beforeMs, backupId: opts.backup as string | undefined, dryRun, toolVersion: TOOL_VERSION, lockWaitMs, signal: ctx.signal, progress: ctx.progress });
    if (opts.json) {
      const cuts = r.cuts.map((c) => ({ of: c.plan.of, id: c.id, referenced: c.plan.referenced, streams: c.plan.summary }));
      ctx.out(`${JSON.stringify({ dryRun, before: r.before, cuts }, null, 2)}\n`);
      return EXIT.ok;
    }
    for (const c of r.cuts) {
      const dropped = c.plan.summary.reduce((n, s) => n + s.droppedRecords, 0);
      const segments = c.plan.summary.reduce((n, s) => n + s.droppedSegments, 0);
      const bytes = c.plan.summary.reduce((n, s) => n + s.droppedBytes, 0);
      const kept = c.plan.summary.reduce((n, s) => n + s.keptRecords, 0);
      if (segments === 0) {
        ctx.out(`${c.plan.of}: nothing older than ${r.before} to leave out (no cut made)\n`);
        continue;
      }
      const what = `${dropped} record(s) in ${segments} segment(s) (${formatBytes(bytes)}) older than ${r.before}, keeping ${kept} record(s) of ${c.plan.referenced.length} backup(s)`;
      ctx.out(dryRun ? `${c.plan.of}: a cut would leave out ${what} (dry run: nothing changed)\n` : `${c.id}: a cut of ${c.plan.of}, leaving out ${what}\n`);
    }
    if (!dryRun && r.cuts.some((c) => c.id !== null) && !ctx.quiet) {
      ctx.err(`mqbak: the old backups still hold the data: forget them (e.g. mqbak forget ${store.description} --keep-last 1 --prune) to free it\n`);
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
