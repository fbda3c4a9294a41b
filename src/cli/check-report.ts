/**
 * What `restore --check` tells (docs/RESTORE-CHECK.md): one line for people, the --json `check`
 * value, and the integrity error (exit 4) naming the first differing record.
 */
import { MqbakError } from '../common/errors.js';
import type { CheckResult } from '../core/restore-check.js';
import type { RestoreOptions } from '../core/restore.js';
import type { CliContext } from './context.js';

/** The result line; `failed`: records the restore could not write (then nothing was checked). */
export function checkLine(check: CheckResult | undefined, failed: number, noun: string): string {
  if (!check) return `check: not run: ${failed} record(s) failed to restore`;
  const n = check.streams.length;
  const where = `${n} ${noun}${n === 1 ? '' : 's'}`;
  if (check.ok) return `check: ok: ${check.records} records read back from ${where} equal the archive`;
  return `check: FAILED: ${check.difference!.message}`;
}

export function checkJson(check: CheckResult | undefined): unknown {
  if (!check) return null;
  return { ok: check.ok, records: check.records, difference: check.difference, streams: check.streams, warnings: check.warnings };
}

/** Throws the check's difference as an integrity error (exit 4). */
export function throwIfCheckFailed(check: CheckResult | undefined): void {
  const d = check?.difference;
  if (!d) return;
  throw new MqbakError('integrity', `restore check: ${d.message}`, { hint: 'the target does not hold what the archive does: see docs/RESTORE-CHECK.md' });
}

/** restore --check-only: the check of an earlier restore; exit 0, or 4 naming the first difference. */
export async function runCheckOnly(ctx: CliContext, options: RestoreOptions, json: boolean): Promise<number> {
  const { checkOnly } = await import('../core/restore-check-only.js');
  const { plan, check } = await checkOnly(options);
  const target = options.adapter.redactUrl(options.url);
  if (json) ctx.out(`${JSON.stringify({ backup: plan.backupId, chain: plan.chain, target, check: checkJson(check) }, null, 2)}\n`);
  else ctx.out(`backup ${plan.backupId} against ${target}:\n${checkLine(check, 0, options.adapter.streamNoun)}\n`);
  throwIfCheckFailed(check);
  return 0;
}
