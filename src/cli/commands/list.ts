import type { CliContext } from '../context.js';
import { formatBytes, formatCount } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';

/** mqbak list <store> [--json]: the backups, oldest first, with their chains. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = ''] = args;
  // a mistyped path is not an empty store: exit 10, as verify
  const store = await openStoreFromCli(storeUrl, opts, ctx.env, { check: 'read' });
  const { listSummaries } = await import('../../core/inspect.js');
  try {
    const list = await listSummaries(store, { signal: ctx.signal });
    if (opts.json) {
      ctx.out(`${JSON.stringify(list, null, 2)}\n`);
    } else if (list.length === 0) {
      ctx.err(`mqbak: no backups in ${store.description}\n`);
    } else {
      const rows = list.map((b) => [
        b.id,
        b.kind ?? 'INVALID',
        b.kind === 'incremental' ? `<- ${b.parent}${b.chain === null ? ' (BROKEN CHAIN)' : ''}` : b.kind === 'full' ? '' : (b.error ?? ''),
        b.records === null ? '' : `${formatCount(b.records)} records`,
        b.streams === null ? '' : `${b.streams} stream${b.streams === 1 ? '' : 's'}`,
        b.bytes === null ? '' : formatBytes(b.bytes),
        b.source ?? '',
      ]);
      ctx.out(table(['ID', 'KIND', 'PARENT', 'RECORDS', 'STREAMS', 'SIZE', 'SOURCE'], rows));
    }
    const invalid = list.filter((b) => b.error !== undefined);
    if (invalid.length > 0) {
      ctx.err(`mqbak: error: ${invalid.length} manifest${invalid.length === 1 ? '' : 's'} could not be read; run mqbak verify\n`);
      return EXIT.integrity;
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return `${[head, ...rows].map(line).join('\n')}\n`;
}
