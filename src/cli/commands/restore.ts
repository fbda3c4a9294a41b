import { adapterForUrl, allAdapters } from '../../brokers/registry.js';
import type { CliContext } from '../context.js';
import { adapterOptionValues } from '../adapter-options.js';
import { commaList, isoTime, parseMap } from '../options/common.js';
import { openStoreFromCli } from '../store.js';
import { MqbakError } from '../../common/errors.js';
import { lockWaitOf } from '../options/common.js';
import { checkJson, checkLine, runCheckOnly, throwIfCheckFailed } from '../check-report.js';
import type { RestoreOptions } from '../../core/restore.js';
import { checkJournalPlace, openOffsetMap } from '../restore-files.js';

/** mqbak restore <store> <target>: the target URL's adapter (src/brokers/registry.ts) through core's one restore pipeline. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = '', target = ''] = args;
  const adapter = await adapterForUrl(target, 'restore target');
  const adapterOptions = adapterOptionValues(adapter, await allAdapters(), 'restore', opts, ctx.env);
  adapter.checkRestore(target, adapterOptions, ctx.env);
  // --streams, and its aliases --topics and --queues
  const streams = [...new Set(['streams', 'topics', 'queues'].flatMap((k) => listOf(opts[k])))];
  const renames = parseMap((opts.map as string[] | undefined) ?? []);
  let until: number | null = null;
  if (opts.until !== undefined) {
    until = isoTime(String(opts.until), '--until');
  }
  const lockWaitMs = lockWaitOf(opts);
  const { parsePreflightMode } = await import('../../core/restore-preflight.js');
  const preflight = parsePreflightMode(String(opts.preflight ?? 'full'));
  if ((opts.check || opts.checkOnly) && (opts.dryRun || !adapter.readBack)) {
    throw new MqbakError('usage', opts.dryRun ? '--check reads back what a restore wrote: not with --dry-run' : `--check is not available for ${adapter.title} targets`);
  }
  const { journalPathFor } = await import('../../core/restore-journal.js');
  const journalOpt = (opts.journal as string | undefined) ?? ctx.env.MQBAK_RESTORE_JOURNAL;
  // the files it writes, before the store is read (src/cli/restore-files.ts)
  const offsetMap = opts.offsetMap === undefined ? null : await openOffsetMap(String(opts.offsetMap));
  let mapDone = false;
  // the pipeline's and the client's modules load while the store opens (a key derivation)
  const loading = Promise.all([import('../../core/restore.js'), opts.dryRun ? undefined : adapter.preload?.('sink')]);
  loading.catch(() => undefined); // a failure to load shows where it is awaited
  const store = await (async () => {
    // the default journal's folder does not depend on the restore
    if (!opts.dryRun) await checkJournalPlace(journalOpt || journalPathFor(ctx.env, { store: '', backupId: '', target: '', streams: [], renames: {}, until: null }), Boolean(journalOpt));
    return await openStoreFromCli(storeUrl, opts, ctx.env);
  })().catch(async (e: unknown) => {
    await offsetMap?.discard();
    throw e;
  });
  ctx.details.labels = { store: store.description, target: adapter.redactUrl(target) };
  const [{ restore }] = await loading;
  try {
    const options: RestoreOptions = {
      adapter,
      store,
      url: target,
      adapterOptions,
      backupId: (opts.backup as string | undefined) ?? 'latest',
      streams,
      renames,
      until,
      dryRun: Boolean(opts.dryRun),
      preflight,
      offsetMapPath: offsetMap?.tempPath,
      lockWaitMs,
      check: Boolean(opts.check),
      journalPath: (backupId) =>
        journalOpt || journalPathFor(ctx.env, { store: store.description, backupId, target: adapter.redactUrl(target), streams, renames, until }),
      signal: ctx.signal,
      progress: ctx.progress,
      debug: ctx.debug,
      env: ctx.env,
    };
    if (opts.checkOnly) return await runCheckOnly(ctx, options, Boolean(opts.json));
    const r = await restore(options).catch(async (e: unknown) => {
      // damage: the findings, or what was published before it was found, then the error line
      (await import('./restore-damage.js')).printRestoreDamage(ctx, adapter, e, Boolean(opts.json));
      throw e;
    });
    // the map goes under its name only now: a restore that threw has none
    if (offsetMap) await (r.dryRun ? offsetMap.discard() : offsetMap.commit());
    mapDone = true;
    ctx.details.records = r.restored;
    ctx.details.chainLength = new Set(r.plan.streams.flatMap((p) => p.parts.map((x) => x.backupId))).size;
    ctx.details.streams = r.streams.map((x) => ({ stream: x.name, records: x.restored + x.alreadyRestored, lastPosition: null }));
    const plan = r.plan;
    if (!r.dryRun && r.runs.length > 0 && opts.offsetMap === undefined && !ctx.quiet) {
      ctx.err(`mqbak: ${r.runs.length} offset run(s) were mapped; pass --offset-map <file> to keep them\n`);
    }
    const untilText = until === null ? null : new Date(until).toISOString();
    if (opts.json) {
      ctx.out(
        `${JSON.stringify(
          {
            backup: plan.backupId,
            chain: plan.chain,
            dryRun: r.dryRun,
            resumed: r.resumed,
            records: r.restored,
            restored: r.restored,
            failed: r.failed,
            skipped: r.skipped,
            alreadyRestored: r.alreadyRestored,
            until: untilText,
            journal: r.journalPath,
            streams: r.streams.map((s) => ({
              name: s.name,
              source: adapter.selectorOf(s.plan.source),
              target: adapter.selectorOf(s.plan.target),
              sourceAddress: s.plan.source,
              targetAddress: s.plan.target,
              from: s.plan.from.toString(),
              to: s.plan.to.toString(),
              records: s.plan.records,
              backups: s.plan.parts.map((p) => p.backupId),
              restored: s.restored,
              failed: s.failed,
              skipped: s.skipped,
              alreadyRestored: s.alreadyRestored,
              failures: s.failures,
            })),
            offsetMap: { runs: r.runs.length, file: (opts.offsetMap as string | undefined) ?? null },
            warnings: r.warnings,
            // null without --check, or when it did not run (records failed)
            check: opts.check ? checkJson(r.check) : null,
            ...r.notes.json,
          },
          null,
          2,
        )}\n`,
      );
    } else if (r.dryRun) {
      ctx.out(`plan for backup ${plan.backupId}${untilText !== null ? ` up to ${untilText}` : ''} (nothing written):\n`);
      for (const s of r.streams) {
        const p = s.plan;
        ctx.out(`  ${adapter.describe(p.source)} positions ${p.from}..${p.to} (${p.records} records stored, ${p.parts.length} backup(s)) -> ${adapter.describe(p.target)}\n`);
      }
      for (const l of r.notes.lines) ctx.out(`  ${l}\n`);
    } else {
      const chain = plan.chain.length > 1 ? ` (chain of ${plan.chain.length})` : '';
      ctx.out(`restored ${r.restored} records from backup ${plan.backupId}${chain}${r.resumed ? ` (resumed: ${r.alreadyRestored} already restored)` : ''}\n`);
      for (const s of r.streams) {
        const src = adapter.describe(s.plan.source);
        const dst = adapter.describe(s.plan.target);
        const name = src === dst ? src : `${src} -> ${dst}`;
        const extra = `${s.skipped ? `, ${s.skipped} skipped by --until` : ''}${s.alreadyRestored ? `, ${s.alreadyRestored} already restored by the interrupted earlier run` : ''}`;
        ctx.out(`  ${name}: ${s.restored} restored, ${s.failed} failed${extra}\n`);
        for (const f of s.failures) ctx.out(`    failure: ${f}\n`);
      }
      for (const l of r.notes.lines) ctx.out(`  ${l}\n`);
      if (opts.check) ctx.out(`${checkLine(r.check, r.failed, adapter.streamNoun)}\n`);
    }
    throwIfCheckFailed(r.check);
    return r.failed > 0 ? 3 : 0;
  } finally {
    if (!mapDone) await offsetMap?.discard();
    await store.close();
  }
}

function listOf(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : commaList(String(v))).map((s) => String(s).trim()).filter(Boolean);
}
