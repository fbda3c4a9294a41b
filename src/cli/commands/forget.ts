import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { formatBytes } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';
import { lockWaitOf } from '../options/common.js';
import { hasRules, parseDuration, type RetentionPolicy } from '../../core/retention-policy.js';
import { pruneReport } from './prune.js';

/** The policy from the --keep-* options; refused before any work when it names no rule. */
export function policyFrom(opts: Record<string, unknown>): RetentionPolicy {
  const policy: RetentionPolicy = {};
  for (const k of ['last', 'hourly', 'daily', 'weekly', 'monthly', 'yearly'] as const) {
    const v = opts[`keep${k[0]!.toUpperCase()}${k.slice(1)}`];
    if (v !== undefined) policy[k] = v as number;
  }
  if (opts.keepWithin !== undefined) policy.within = { text: String(opts.keepWithin), ms: parseDuration(String(opts.keepWithin), '--keep-within') };
  const ids = (opts.keepId as string[] | undefined) ?? [];
  if (ids.length > 0) policy.ids = ids;
  if (!hasRules(policy)) {
    throw new MqbakError('usage', 'forget needs a policy: no --keep-* option given', {
      hint: 'e.g. mqbak forget <store> --keep-daily 7 --keep-weekly 4 --dry-run',
    });
  }
  return policy;
}

/** mqbak forget <store> --keep-...: removes the backups the policy does not keep (and prunes with --prune). */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = ''] = args;
  const policy = policyFrom(opts);
  const graceMs = opts.grace === undefined ? undefined : parseDuration(String(opts.grace), '--grace');
  const dryRun = Boolean(opts.dryRun);
  const lockWaitMs = lockWaitOf(opts);
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  ctx.details.labels = { store: store.description };
  const { forget } = await import('../../core/forget.js');
  try {
    const r = await forget({ store, policy, lockWaitMs, dryRun, prune: opts.prune ? { graceMs } : undefined, signal: ctx.signal, progress: ctx.progress });
    ctx.details.forgotten = { removed: r.removed.length, kept: r.groups.reduce((n, g) => n + g.keep.length, 0) };
    if (r.pruned) ctx.details.deleted = { objects: r.pruned.deleted, bytes: r.pruned.freedBytes };
    if (opts.json) {
      ctx.out(
        `${JSON.stringify(
          {
            dryRun,
            groups: r.groups,
            removed: dryRun ? r.groups.flatMap((g) => g.remove) : r.removed,
            prune: r.pruned && { deleted: r.pruned.dryRun ? r.pruned.plan.delete.length : r.pruned.deleted, freedBytes: r.pruned.dryRun ? r.pruned.plan.bytes : r.pruned.freedBytes, young: r.pruned.plan.young.length },
          },
          null,
          2,
        )}\n`,
      );
      return EXIT.ok;
    }
    for (const g of r.groups) {
      ctx.out(`chain ${g.chainKey}: keep ${g.keep.length}, ${dryRun ? 'would remove' : 'remove'} ${g.remove.length}\n`);
      for (const k of g.keep) ctx.out(`  keep    ${k.id}  ${k.reasons.join(', ')}\n`);
      for (const id of g.remove) ctx.out(`  remove  ${id}\n`);
    }
    const n = dryRun ? r.groups.reduce((s, g) => s + g.remove.length, 0) : r.removed.length;
    ctx.out(`${dryRun ? 'would forget' : 'forgot'} ${n} backup${n === 1 ? '' : 's'}${dryRun ? ' (dry run: nothing changed)' : ''}\n`);
    if (r.pruned) ctx.out(pruneReport(r.pruned, formatBytes));
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
