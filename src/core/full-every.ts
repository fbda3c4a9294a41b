/**
 * backup --full-every DURATION|N: when a scheduled backup starts a new chain instead of adding an
 * incremental (docs/RETENTION.md). A chain that never restarts needs its first full forever, so
 * nothing could ever be forgotten; with --full-every, forget can drop an old chain whole.
 */
import { MqbakError } from '../common/errors.js';
import { parseDuration } from './retention-policy.js';

export type FullEvery = { kind: 'age'; ms: number; text: string } | { kind: 'count'; n: number };

/** `7d` (the chain's full is at least this old) or `30` (the chain has this many backups). */
export function parseFullEvery(text: string): FullEvery {
  const s = text.trim();
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < 1) throw new MqbakError('usage', `--full-every ${text}: expected a duration (e.g. 7d) or a number of backups of at least 1`);
    return { kind: 'count', n };
  }
  return { kind: 'age', ms: parseDuration(s, '--full-every'), text: s };
}

/**
 * Whether the next backup starts a new chain: the parent's chain started at `fullTime` (ms) and
 * holds `chainLength` backups (the full included).
 */
export function startsNewChain(rule: FullEvery, chain: { fullTime: number; chainLength: number }, now: number): { yes: boolean; why: string } {
  if (rule.kind === 'count') {
    return chain.chainLength >= rule.n
      ? { yes: true, why: `the chain holds ${chain.chainLength} backup(s), --full-every ${rule.n}` }
      : { yes: false, why: '' };
  }
  const age = now - chain.fullTime;
  return age >= rule.ms ? { yes: true, why: `the chain's full backup is older than --full-every ${rule.text}` } : { yes: false, why: '' };
}
