import type { CliContext } from '../context.js';
import { formatBytes, formatCount } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';
import { table } from './list.js';

/** mqbak show <store> <backup-id> [--json]: one manifest, readable or as JSON. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = '', id = ''] = args;
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  const { loadManifest } = await import('../../core/backup-reader.js');
  try {
    const { manifest: m, sha256 } = await loadManifest(store, id, { signal: ctx.signal });
    if (opts.json) {
      ctx.out(`${JSON.stringify({ ...m, sha256 }, null, 2)}\n`);
      return EXIT.ok;
    }
    const records = m.streams.reduce((n, s) => n + s.records, 0);
    const bytes = m.streams.reduce((n, s) => n + s.segments.reduce((k, g) => k + g.bytes, 0), 0);
    const lines = [
      `backup    ${m.id}`,
      `kind      ${m.kind}${m.parent ? ` (parent ${m.parent.id})` : ''}${m.cut ? ` (a cut of ${m.cut.of}: records before ${m.cut.before} left out)` : ''}`,
      `source    ${m.source.broker} ${m.source.url}`,
      `chain key ${m.source.chainKey}`,
      `started   ${m.startedAt}`,
      `ended     ${m.endedAt}`,
      `tool      mqbak ${m.tool.version}, format v${m.version}`,
      `manifest  sha256 ${sha256}`,
      `records   ${formatCount(records)} in ${m.streams.length} stream${m.streams.length === 1 ? '' : 's'}, ${formatBytes(bytes)} stored`,
    ];
    if (Object.keys(m.source.options).length > 0) lines.push(`options   ${JSON.stringify(m.source.options)}`);
    ctx.out(`${lines.join('\n')}\n\n`);
    const rows = m.streams.map((s) => [
      s.name,
      `[${s.from}, ${s.to})`,
      formatCount(s.records),
      String(s.segments.length),
      formatBytes(s.segments.reduce((k, g) => k + g.bytes, 0)),
      timeRange(s.segments[0]?.firstTimestamp ?? null, s.segments[s.segments.length - 1]?.lastTimestamp ?? null),
      [...s.gaps.map((g) => `gap [${g.from}, ${g.to}) ${g.reason}`), ...Object.entries(s.extra).map(([k, v]) => `${k}=${JSON.stringify(v)}`)].join('; '),
    ]);
    ctx.out(table(['STREAM', 'RANGE', 'RECORDS', 'SEGMENTS', 'SIZE', 'TIMESTAMPS', 'NOTES'], rows));
    const meta = Object.entries(m.metadata);
    if (meta.length > 0) {
      ctx.out('\nmetadata\n');
      for (const [k, v] of meta) {
        const text = JSON.stringify(v);
        ctx.out(`  ${k}: ${text.length > 200 ? `${text.slice(0, 200)}... (${text.length} chars; see --json)` : text}\n`);
      }
    }
    if (m.warnings.length > 0) {
      ctx.out('\nwarnings\n');
      for (const w of m.warnings) ctx.out(`  ${w}\n`);
    }
    return EXIT.ok;
  } finally {
    await store.close();
  }
}

function timeRange(a: number | null, b: number | null): string {
  const f = (t: number | null) => (t === null ? '-' : new Date(t).toISOString());
  return a === null && b === null ? '' : `${f(a)} .. ${f(b)}`;
}
