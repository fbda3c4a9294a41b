import type { CliContext } from '../context.js';
import { formatBytes } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';
import { lockWaitOf } from '../options/common.js';
import { parseDuration } from '../../core/retention-policy.js';
import type { PruneResult } from '../../core/prune.js';

/** The closing lines of a prune, for prune and forget --prune. */
export function pruneReport(r: PruneResult, bytes: (n: number) => string): string {
  const n = r.dryRun ? r.plan.delete.length : r.deleted;
  const freed = r.dryRun ? r.plan.bytes : r.freedBytes;
  let out = `${r.dryRun ? 'would delete' : 'deleted'} ${n} segment${n === 1 ? '' : 's'}, ${r.dryRun ? 'freeing' : 'freed'} ${bytes(freed)}\n`;
  if (r.plan.young.length > 0) out += `left ${r.plan.young.length} unreferenced segment(s) younger than the grace period (a backup may still be writing them)\n`;
  if (r.plan.unknown.length > 0) out += `left ${r.plan.unknown.length} object(s) under segments/ that mqbak did not write\n`;
  return out;
}

/** mqbak prune <store>: deletes the segments no remaining backup needs. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = ''] = args;
  const graceMs = opts.grace === undefined ? undefined : parseDuration(String(opts.grace), '--grace');
  const lockWaitMs = lockWaitOf(opts);
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  ctx.details.labels = { store: store.description };
  const { prune } = await import('../../core/prune.js');
  try {
    const r = await prune({ store, graceMs, lockWaitMs, dryRun: Boolean(opts.dryRun), signal: ctx.signal, progress: ctx.progress });
    ctx.details.deleted = { objects: r.deleted, bytes: r.freedBytes };
    if (opts.json) {
      ctx.out(
        `${JSON.stringify(
          { dryRun: r.dryRun, deleted: r.dryRun ? 0 : r.deleted, freedBytes: r.dryRun ? 0 : r.freedBytes, plan: { delete: r.plan.delete, bytes: r.plan.bytes, young: r.plan.young, unknown: r.plan.unknown } },
          null,
          2,
        )}\n`,
      );
    } else ctx.out(pruneReport(r, formatBytes));
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
