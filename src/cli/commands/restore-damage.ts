/**
 * What restore prints when damage stops it (core/restore-preflight.ts, core/restore-published.ts):
 * the preflight's findings as `verify` prints them, or, damage found mid-way, each stream's
 * published source range; on stdout (--json: one object), the error line itself goes to stderr.
 */
import type { BrokerAdapter } from '../../brokers/adapter.js';
import { PreflightFailed } from '../../core/restore-preflight.js';
import { RestoreStopped, type PublishedStream } from '../../core/restore-published.js';
import { findingLine } from '../../core/verify.js';
import type { CliContext } from '../context.js';

export function printRestoreDamage(ctx: CliContext, adapter: BrokerAdapter, e: unknown, json: boolean): void {
  if (e instanceof PreflightFailed) {
    if (json) ctx.out(`${JSON.stringify({ ok: false, preflight: { findings: e.findings }, published: [] }, null, 2)}\n`);
    else for (const f of e.findings) ctx.out(`${findingLine(f)}\n`);
  } else if (e instanceof RestoreStopped) {
    if (json) ctx.out(`${JSON.stringify({ ok: false, published: e.published.map(jsonOf(adapter)) }, null, 2)}\n`);
    else for (const p of e.published) ctx.out(`${publishedLine(adapter, p)}\n`);
  }
}

function publishedLine(adapter: BrokerAdapter, p: PublishedStream): string {
  const src = adapter.describe(p.source);
  const dst = adapter.describe(p.target);
  const name = src === dst ? src : `${src} -> ${dst}`;
  const range = p.first === null ? 'nothing' : `positions ${p.first}..${p.last} (${p.records} record${p.records === 1 ? '' : 's'}${p.refused ? `, ${p.refused} refused by the broker` : ''})`;
  return `published: ${name}: ${range}${p.earlier ? `; ${p.earlier} restored by the interrupted earlier run` : ''}`;
}

function jsonOf(adapter: BrokerAdapter): (p: PublishedStream) => Record<string, unknown> {
  return (p) => ({
    name: p.name,
    source: adapter.selectorOf(p.source),
    target: adapter.selectorOf(p.target),
    first: p.first?.toString() ?? null,
    last: p.last?.toString() ?? null,
    records: p.records,
    refused: p.refused,
    alreadyRestored: p.earlier,
  });
}
