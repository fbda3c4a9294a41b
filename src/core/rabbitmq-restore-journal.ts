/**
 * Where an interrupted RabbitMQ restore stopped, kept in the store next to the backups so that
 * running the same restore again continues instead of republishing everything.
 *
 * Stand-in until the broker-neutral restore journal (src/core/restore-journal.ts, Kafka task)
 * exists: same idea, RabbitMQ's positions. Objects are write-once, so each checkpoint is a new
 * object restores/<journal-id>/<seq>.json; the highest seq is the state. A journal whose last
 * checkpoint says complete is not resumed: running a finished restore again restores again.
 */
import { createHash } from 'node:crypto';
import { MqbakError } from '../common/errors.js';
import type { Store } from '../stores/store.js';

export const JOURNAL_PREFIX = 'restores/';
const MAX_FAILED_KEPT = 10_000;

export interface QueueProgress {
  target: string;
  /** Every record up to and including this position was settled (confirmed or failed); null: none yet. */
  settledThrough: string | null;
  /** Positions at or before settledThrough whose publish failed: retried by the next run. */
  failed: string[];
}

export interface JournalState {
  format: 'mqbak-restore-journal';
  version: 1;
  backup: string;
  target: string;
  queues: Record<string, QueueProgress>;
  complete: boolean;
  writtenAt: string;
}

/** The identity of one restore: the same backup chain, target and options resume each other. */
export function journalId(parts: { backup: string; target: string; map: Record<string, string>; queues: string[]; viaExchange: boolean }): string {
  const canonical = JSON.stringify([
    parts.backup,
    parts.target,
    Object.entries(parts.map).sort(),
    [...parts.queues].sort(),
    parts.viaExchange,
  ]);
  return createHash('sha256').update(canonical).digest('hex').slice(0, 24);
}

export class RestoreJournal {
  private seq = 0;
  private writing: Promise<void> = Promise.resolve();
  private failedToWrite: string | null = null;

  private constructor(
    private readonly store: Store,
    readonly id: string,
    /** The state an earlier, unfinished run left, or null. */
    readonly resumed: JournalState | null,
  ) {}

  static async open(store: Store, id: string, signal?: AbortSignal): Promise<RestoreJournal> {
    const prefix = `${JOURNAL_PREFIX}${id}/`;
    let last: string | null = null;
    for await (const o of store.list(prefix, { signal })) last = o.key;
    let resumed: JournalState | null = null;
    let seq = 0;
    if (last) {
      seq = Number(last.slice(prefix.length).replace(/\.json$/, '')) + 1;
      let state: JournalState;
      try {
        state = JSON.parse(new TextDecoder().decode(await store.get(last, { signal }))) as JournalState;
      } catch (e) {
        throw new MqbakError('integrity', `restore journal ${last}: unreadable: ${e instanceof Error ? e.message : String(e)}`, {
          hint: `delete the objects under ${prefix} to restore from the beginning`,
        });
      }
      if (state.format !== 'mqbak-restore-journal') throw new MqbakError('integrity', `restore journal ${last}: not a journal`);
      if (!state.complete) resumed = state;
    }
    const j = new RestoreJournal(store, id, resumed);
    j.seq = Number.isFinite(seq) ? seq : 0;
    return j;
  }

  /** Stores a checkpoint (in order, one at a time). A store that refuses writes only costs resumability. */
  checkpoint(state: Omit<JournalState, 'format' | 'version' | 'writtenAt'>): Promise<void> {
    const body: JournalState = { format: 'mqbak-restore-journal', version: 1, ...state, writtenAt: new Date().toISOString() };
    const key = `${JOURNAL_PREFIX}${this.id}/${String(this.seq++).padStart(10, '0')}.json`;
    this.writing = this.writing.then(async () => {
      if (this.failedToWrite) return;
      try {
        await this.store.put(key, new TextEncoder().encode(`${JSON.stringify(body)}\n`));
      } catch (e) {
        this.failedToWrite = e instanceof Error ? e.message : String(e);
      }
    });
    return this.writing;
  }

  /** Why checkpoints could not be stored, if they could not. */
  get writeFailure(): string | null {
    return this.failedToWrite;
  }
}

/**
 * Tracks which records of one queue are settled, in publish order, to know the prefix a rerun
 * can skip.
 */
export class SettledTracker {
  private readonly inFlight: Array<{ position: bigint; state: 'pending' | 'ok' | 'failed' }> = [];
  private settledThrough: bigint | null;
  private readonly failed: bigint[];

  constructor(previous?: QueueProgress) {
    this.settledThrough = previous?.settledThrough != null ? BigInt(previous.settledThrough) : null;
    this.failed = (previous?.failed ?? []).map((p) => BigInt(p));
  }

  /** Whether a record must be published: not settled by an earlier run, or failed there. */
  wanted(position: bigint): boolean {
    if (this.settledThrough === null || position > this.settledThrough) return true;
    return this.failed.includes(position);
  }

  /** Registers a publish; call the returned function with the outcome. */
  sent(position: bigint): (ok: boolean) => void {
    // a retried failure is settled again by this run
    const i = this.failed.indexOf(position);
    if (i >= 0) this.failed.splice(i, 1);
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

  progress(target: string): QueueProgress {
    const failed = [...this.failed].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    if (failed.length > MAX_FAILED_KEPT) {
      // too many to list: a rerun starts again at the first failure (and republishes the
      // confirmed ones after it)
      return { target, settledThrough: (failed[0]! - 1n).toString(), failed: [] };
    }
    return { target, settledThrough: this.settledThrough === null ? null : this.settledThrough.toString(), failed: failed.map(String) };
  }
}
