import { adapterForUrl, allAdapters } from '../../brokers/registry.js';
import type { CliContext } from '../context.js';
import { adapterOptionValues } from '../adapter-options.js';
import { openStoreFromCli } from '../store.js';
import { lockWaitOf } from '../options/common.js';
import { TOOL_VERSION } from '../version.js';
import { parseFullEvery } from '../../core/full-every.js';
import { resolveChain } from '../../core/backup-reader.js';

/** mqbak backup <source> <store>: the source URL's adapter (src/brokers/registry.ts) through core's one backup pipeline. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [source = '', storeUrl = ''] = args;
  const adapter = await adapterForUrl(source, 'backup source');
  const adapterOptions = adapterOptionValues(adapter, await allAdapters(), 'backup', opts, ctx.env);
  adapter.checkBackup(source, adapterOptions, ctx.env);
  const lockWaitMs = lockWaitOf(opts);
  const fullEvery = opts.fullEvery === undefined ? undefined : parseFullEvery(String(opts.fullEvery));
  // the pipeline's and the client's modules load while the store opens (a key derivation)
  const loading = Promise.all([import('../../core/backup.js'), adapter.preload?.('source')]);
  loading.catch(() => undefined); // a failure to load shows where it is awaited
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  ctx.details.labels = { store: store.description, source: adapter.redactUrl(source) };
  const [{ backup }] = await loading;
  try {
    const r = await backup({
      adapter,
      url: source,
      adapterOptions,
      store,
      full: Boolean(opts.full),
      fullEvery,
      toolVersion: TOOL_VERSION,
      segmentSize: opts.segmentSize as number | undefined,
      level: opts.level as number | undefined,
      lockWaitMs,
      signal: ctx.signal,
      progress: ctx.progress,
      debug: ctx.debug,
      env: ctx.env,
    });
    const first = r.backups[0]!.manifest;
    const last = r.backups[r.backups.length - 1]!.manifest;
    ctx.details.records = r.records;
    ctx.details.storedBytes = r.backups.reduce((n, b) => n + b.manifest.streams.reduce((m, s) => m + s.segments.reduce((k, g) => k + g.bytes, 0), 0), 0);
    // a run that starts with a full backup is its own chain; an incremental's parents are read only for the metrics
    if (first.kind === 'full') ctx.details.chainLength = r.backups.length;
    else if (ctx.metered) ctx.details.chainLength = (await resolveChain(store, last.id, { signal: ctx.signal })).length;
    ctx.details.streams = r.streams.map((s) => ({ stream: s.name, records: s.records, lastPosition: s.records > 0 ? (BigInt(s.to) - 1n).toString() : null }));
    const mode = r.selection.options.mode;
    if (opts.json) {
      ctx.out(
        `${JSON.stringify(
          {
            id: last.id,
            kind: first.kind,
            parent: first.parent?.id ?? null,
            records: r.records,
            backups: r.backups.map((b) => b.manifest.id),
            ...(mode === undefined ? {} : { mode }),
            streams: r.streams.map((s) => ({
              name: s.name,
              ...s.address,
              from: s.from,
              to: s.to,
              records: s.records,
              gaps: s.gaps,
              acked: s.acked,
              ...(r.report.streams[s.name] ?? {}),
            })),
            warnings: r.warnings,
          },
          null,
          2,
        )}\n`,
      );
      return 0;
    }
    const ids = r.backups.length === 1 ? last.id : `${first.id} .. ${last.id} (${r.backups.length} checkpoints)`;
    ctx.out(`backup ${ids}: ${first.kind}${first.parent ? ` after ${first.parent.id}` : ''}, ${r.records} records in ${r.streams.length} ${adapter.streamNoun}(s)\n`);
    if (r.report.lines.length > 0) for (const l of r.report.lines) ctx.out(`  ${l}\n`);
    else {
      for (const s of r.streams) {
        ctx.out(`  ${adapter.describe(s.address)} positions ${s.from}..${s.to}: ${s.records} records${s.gaps.length ? `, ${s.gaps.length} gap(s)` : ''}\n`);
      }
    }
    if (r.warnings.length > 0) ctx.out(`  ${r.warnings.length} warning(s): see mqbak show ${last.id}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
