import { writeFile } from 'node:fs/promises';
import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { openStoreFromCli } from '../store.js';
import { parseMap } from '../options/common.js';
import { managementFrom } from './backup-rabbitmq.js';

export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = '', target = ''] = args;
  const queues = [
    ...((opts.queues as string | undefined)?.split(',') ?? []),
    ...((opts.topics as string | undefined)?.split(',') ?? []),
  ]
    .map((s) => s.trim())
    .filter(Boolean);
  const map = parseMap((opts.map as string[] | undefined) ?? []);
  let until: number | undefined;
  if (opts.until !== undefined) {
    until = Date.parse(String(opts.until));
    if (Number.isNaN(until)) throw new MqbakError('usage', `--until ${String(opts.until)}: expected an ISO 8601 time`);
  }
  const management = managementFrom(target, opts, ctx.env);
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  const { restoreRabbitmq } = await import('../../core/rabbitmq-restore.js');
  try {
    const r = await restoreRabbitmq({
      store,
      url: target,
      management,
      backup: opts.backup as string | undefined,
      queues,
      map,
      definitions: Boolean(opts.definitions),
      viaExchange: Boolean(opts.viaExchange),
      until,
      dryRun: Boolean(opts.dryRun),
      signal: ctx.signal,
      progress: ctx.progress,
    });
    const mapFile = opts.offsetMap as string | undefined;
    if (mapFile && !r.dryRun) {
      // JSON lines, one per restored stream-queue message: where its source offset landed
      await writeFile(mapFile, r.offsetMap.map((m) => JSON.stringify(m)).join('\n') + (r.offsetMap.length > 0 ? '\n' : ''));
    } else if (r.offsetMap.length > 0 && !ctx.quiet) {
      ctx.err(`mqbak: ${r.offsetMap.length} stream offsets were mapped; pass --offset-map <file> to keep them\n`);
    }
    if (opts.json) {
      ctx.out(
        `${JSON.stringify(
          {
            backup: r.backup,
            chain: r.chain,
            dryRun: r.dryRun,
            records: r.records,
            restored: r.restored,
            failed: r.failed,
            skipped: r.skipped,
            alreadyRestored: r.alreadyRestored,
            journal: r.journal,
            streams: r.queues,
            definitions: r.definitions,
            userIdDropped: r.userIdDropped,
            headersRenamed: r.headersRenamed,
            offsetMap: { entries: r.offsetMap.length, file: mapFile ?? null },
            warnings: r.warnings,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      ctx.out(`${r.dryRun ? 'would restore' : 'restore of'} backup ${r.backup}${r.chain.length > 1 ? ` (chain of ${r.chain.length})` : ''}: ${r.dryRun ? r.records : r.restored} of ${r.records} records${r.dryRun ? '' : ' confirmed'}\n`);
      if (r.definitions) {
        ctx.out(`  definitions: ${r.definitions.created.length} created, ${r.definitions.unchanged.length} already there, ${r.definitions.conflicts.length} differing (left unchanged)\n`);
        for (const c of r.definitions.conflicts) ctx.out(`    ${c}\n`);
      }
      for (const q of r.queues) {
        const name = q.source === q.target ? q.source : `${q.source} -> ${q.target}`;
        ctx.out(
          `  ${name} (${q.type}): ${
            r.dryRun
              ? `${q.records} records`
              : `${q.restored} restored, ${q.failed} failed${q.skipped ? `, ${q.skipped} skipped by --until` : ''}${q.alreadyRestored ? `, ${q.alreadyRestored} already restored by the interrupted earlier run` : ''}`
          }\n`,
        );
        for (const f of q.failures) ctx.out(`    failure: ${f}\n`);
      }
    }
    return r.failed > 0 ? 3 : 0;
  } finally {
    await store.close();
  }
}
