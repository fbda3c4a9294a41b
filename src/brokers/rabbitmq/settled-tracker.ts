/**
 * Which records of one target queue are settled (confirmed or failed), in publish order: the
 * prefix an interrupted restore's rerun can skip. Kept in the restore journal as the queue's
 * entry {settledThrough, failed}; confirms may come back in any order, the prefix only grows over
 * records whose outcome is known.
 */
import type { JournalEntry } from '../adapter.js';

/** A restore with more failures than this keeps only the first: the rerun starts again there. */
const MAX_FAILED_KEPT = 10_000;

export interface SettledEntry {
  /** Every record up to and including this position was settled; null: none yet. */
  settledThrough: string | null;
  /** Positions at or before settledThrough whose publish failed: retried by the next run. */
  failed: string[];
}

/** A journal entry as an earlier run left it, or null when it is not one of ours. */
export function settledEntryOf(saved: JournalEntry | null): SettledEntry | null {
  if (saved === null) return null;
  const { settledThrough, failed } = saved;
  const through = typeof settledThrough === 'string' && /^-?\d+$/.test(settledThrough) ? settledThrough : null;
  const list = Array.isArray(failed) ? failed.filter((f): f is string => typeof f === 'string' && /^-?\d+$/.test(f)) : [];
  return { settledThrough: through, failed: list };
}

export class SettledTracker {
  private readonly inFlight: Array<{ position: bigint; state: 'pending' | 'ok' | 'failed' }> = [];
  private settledThrough: bigint | null;
  private readonly failed: bigint[];

  constructor(previous?: SettledEntry | null) {
    this.settledThrough = previous?.settledThrough != null ? BigInt(previous.settledThrough) : null;
    this.failed = (previous?.failed ?? []).map((p) => BigInt(p));
  }

  /** Registers a publish; call the returned function with the outcome. */
  sent(position: bigint): (ok: boolean) => void {
    // a retried failure is settled again by this run
    if (this.failed.length > 0) {
      const i = this.failed.indexOf(position);
      if (i >= 0) this.failed.splice(i, 1);
    }
    const entry = { position, state: 'pending' as 'pending' | 'ok' | 'failed' };
    this.inFlight.push(entry);
    return (ok) => {
      entry.state = ok ? 'ok' : 'failed';
      while (this.inFlight.length > 0 && this.inFlight[0]!.state !== 'pending') {
        const e = this.inFlight.shift()!;
        if (e.state === 'failed') this.failed.push(e.position);
        if (this.settledThrough === null || e.position > this.settledThrough) this.settledThrough = e.position;
      }
    };
  }

  entry(): SettledEntry {
    const failed = [...this.failed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (failed.length > MAX_FAILED_KEPT) {
      // too many to list: a rerun starts again at the first failure (and republishes the
      // confirmed ones after it)
      return { settledThrough: (failed[0]! - 1n).toString(), failed: [] };
    }
    return { settledThrough: this.settledThrough === null ? null : this.settledThrough.toString(), failed: failed.map(String) };
  }
}
