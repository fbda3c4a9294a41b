/**
 * verify --read-data-subset: which segments a verify reads in full (docs/RUNBOOKS.md, "CI
 * verification"). Manifests and the chain are always checked whole; this decides only which
 * segments' bytes are read and decoded.
 *
 * - `n/t` is slice n of t: a segment belongs to slice 1 + (the first 32 bits of the SHA-256 of its
 *   key) mod t. The slice of a segment depends on its key alone, so the slices 1/t .. t/t read
 *   every segment exactly once, whatever backups were added or removed between the runs: a job
 *   running `--read-data-subset $(date +%u)/7` reads everything in a week.
 * - `P%` reads a random share: each segment with probability P/100.
 */
import { createHash } from 'node:crypto';
import { MqbakError } from '../common/errors.js';

export type DataSubset = { kind: 'all' } | { kind: 'slice'; n: number; t: number } | { kind: 'percent'; percent: number };

export function parseDataSubset(text: string): DataSubset {
  const s = text.trim();
  const slice = /^(\d+)\/(\d+)$/.exec(s);
  if (slice) {
    const n = Number(slice[1]);
    const t = Number(slice[2]);
    if (!Number.isSafeInteger(t) || t < 1 || n < 1 || n > t) {
      throw new MqbakError('usage', `--read-data-subset ${text}: expected n/t with 1 <= n <= t`, { hint: 'e.g. --read-data-subset "$(date +%u)/7" reads a seventh each day' });
    }
    return { kind: 'slice', n, t };
  }
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(s);
  if (pct) {
    const percent = Number(pct[1]);
    if (!(percent > 0 && percent <= 100)) throw new MqbakError('usage', `--read-data-subset ${text}: expected a share above 0% and at most 100%`);
    return { kind: 'percent', percent };
  }
  throw new MqbakError('usage', `--read-data-subset ${JSON.stringify(text)}: expected n/t (e.g. 2/7) or a percentage (e.g. 10%)`);
}

/** The slice (1..t) a segment key belongs to. */
export function sliceOf(key: string, t: number): number {
  return 1 + (createHash('sha256').update(key).digest().readUInt32BE(0) % t);
}

/** Whether verify reads this segment's data. `random` gives numbers in [0, 1) (Math.random by default). */
export function readsSegment(subset: DataSubset, key: string, random: () => number = Math.random): boolean {
  switch (subset.kind) {
    case 'all':
      return true;
    case 'slice':
      return sliceOf(key, subset.t) === subset.n;
    case 'percent':
      return random() * 100 < subset.percent;
  }
}

/** The subset as it was given, for --json and messages. */
export function describeSubset(subset: DataSubset): string {
  switch (subset.kind) {
    case 'all':
      return 'all';
    case 'slice':
      return `${subset.n}/${subset.t}`;
    case 'percent':
      return `${subset.percent}%`;
  }
}
