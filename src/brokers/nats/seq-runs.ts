/**
 * Where a restore's messages landed: runs of consecutive source sequences stored at consecutive
 * target sequences, kept as numbers (JetStream sequences are below 2^53) and turned into the
 * offset map's runs at the end. A rerun of an interrupted restore starts from the runs its
 * journal kept; retried messages may land after later ones, so the runs are sorted at the end.
 */
import type { OffsetRun, StreamAddress } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';

/** [sourceStart, sourceEnd (inclusive), targetStart] */
export type SeqRun = [number, number, number];

export class SeqRuns {
  private readonly runs: SeqRun[] = [];

  constructor(saved: readonly SeqRun[] = []) {
    for (const r of saved) this.runs.push([r[0], r[1], r[2]]);
  }

  add(source: number, target: number): void {
    const c = this.runs[this.runs.length - 1];
    if (c && source === c[1] + 1 && target === c[2] + (c[1] - c[0]) + 1) c[1] = source;
    else this.runs.push([source, source, target]);
  }

  /** For the journal: plain JSON. */
  toJson(): SeqRun[] {
    return this.runs.map((r) => [r[0], r[1], r[2]]);
  }

  static fromJson(v: unknown, what: string): SeqRuns {
    const ok = Array.isArray(v) && v.every((r) => Array.isArray(r) && r.length === 3 && r.every((x) => Number.isSafeInteger(x) && x >= 0));
    if (!ok) throw new MqbakError('usage', `restore journal: ${what}: runs are not [[sourceStart, sourceEnd, targetStart], ...]`, { hint: 'delete the journal to start the restore over' });
    return new SeqRuns(v as SeqRun[]);
  }

  /** The offset map's runs, by source sequence, adjacent ones merged. */
  offsetRuns(stream: string, source: StreamAddress, target: StreamAddress): OffsetRun[] {
    const sorted = [...this.runs].sort((a, b) => a[0] - b[0]);
    const merged: SeqRun[] = [];
    for (const r of sorted) {
      const c = merged[merged.length - 1];
      if (c && r[0] === c[1] + 1 && r[2] === c[2] + (c[1] - c[0]) + 1) c[1] = r[1];
      else merged.push([r[0], r[1], r[2]]);
    }
    return merged.map((r) => ({ stream, source, target, sourceStart: BigInt(r[0]), sourceEnd: BigInt(r[1]), targetStart: BigInt(r[2]) }));
  }
}

/**
 * The target sequence a consumer resumes at: that of the first restored message whose source
 * sequence is >= `firstUnacked`, or `targetEnd` (the target's next sequence) when there is none.
 * Never skips a message the consumer had not acknowledged. `runs` are one stream's, in order.
 */
export function translateSeq(runs: readonly OffsetRun[], firstUnacked: bigint, targetEnd: bigint): bigint {
  for (const r of runs) {
    if (r.sourceEnd < firstUnacked) continue;
    if (firstUnacked <= r.sourceStart) return r.targetStart;
    return r.targetStart + (firstUnacked - r.sourceStart);
  }
  return targetEnd;
}
