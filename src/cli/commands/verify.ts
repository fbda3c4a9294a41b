import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { formatBytes, formatCount } from '../context.js';
import { openStoreFromCli } from '../store.js';
import { parseDataSubset } from '../../core/verify-subset.js';

/** mqbak verify <store> [<backup-id>] [--json]: 0 all well, 4 any integrity finding, 10 no such backup. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = '', id] = args;
  const subset = opts.readDataSubset === undefined ? undefined : parseDataSubset(String(opts.readDataSubset));
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  ctx.details.labels = { store: store.description };
  const { verifyStore, FINDING_KINDS } = await import('../../core/verify.js');
  try {
    const result = await verifyStore(store, { id, subset, signal: ctx.signal, progress: ctx.progress, worker: true });
    ctx.details.records = result.checked.records;
    ctx.details.storedBytes = result.checked.bytes;
    ctx.details.findings = Object.fromEntries(FINDING_KINDS.map((k) => [k, result.findings.filter((f) => f.kind === k).length]));
    if (opts.json) {
      ctx.out(`${JSON.stringify({ ok: result.ok, findings: result.findings, checked: result.checked }, null, 2)}\n`);
    } else {
      for (const f of result.findings) ctx.out(`${f.severity}: ${f.kind}: ${f.message}\n`);
      const c = result.checked;
      const errors = result.findings.filter((f) => f.severity === 'error').length;
      const warnings = result.findings.length - errors;
      const summary =
        `${c.backups} backup${c.backups === 1 ? '' : 's'}, ${c.segments} segment${c.segments === 1 ? '' : 's'}, ` +
        `${formatCount(c.records)} records, ${formatBytes(c.bytes)} checked` +
        (c.subset === 'all' ? '' : ` (subset ${c.subset}: ${c.segmentsNotRead} segment${c.segmentsNotRead === 1 ? '' : 's'}, ${formatBytes(c.bytesNotRead)} not read, only their presence and size)`);
      ctx.out(
        result.ok
          ? `ok: ${summary}${warnings ? ` (${warnings} warning${warnings === 1 ? '' : 's'})` : ''}\n`
          : `FAILED: ${errors} integrity finding${errors === 1 ? '' : 's'}; ${summary}\n`,
      );
    }
    return result.ok ? EXIT.ok : EXIT.integrity;
  } finally {
    await store.close();
  }
}
