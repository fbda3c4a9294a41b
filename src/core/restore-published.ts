/**
 * What a restore published of each stream, for when it stops on damage found mid-way (a segment
 * changed after the preflight, or --preflight sizes): the source positions the broker
 * acknowledged, first..last. Writers apply writes in call order and acknowledge a prefix of
 * what they were handed (a writer may hold back the end of a write: it is not published until
 * acknowledged), so the acknowledged records are the first `written + failed` handed on.
 */
import type { StreamAddress, WriteAck } from '../brokers/adapter.js';
import { MqbakError } from '../common/errors.js';
import type { RecordSlice } from '../common/record.js';

/** One stream's published range. */
export interface PublishedStream {
  name: string;
  source: StreamAddress;
  target: StreamAddress;
  /** First and last source position settled in this run (published or refused by the broker), or null: none. */
  first: bigint | null;
  last: bigint | null;
  /** Records the broker acknowledged in this run; refused ones are counted apart. */
  records: number;
  refused: number;
  /** Restored by an interrupted earlier run of the same restore (not in first..last). */
  earlier: number;
}

/** Follows what a stream writer was handed and what it acknowledged. */
export class PublishedTracker {
  private readonly pending: RecordSlice[] = [];
  /** Handed records the writer leaves out itself (resume.records: an earlier run wrote them). */
  private skip: number;
  first: bigint | null = null;
  last: bigint | null = null;
  records = 0;
  refused = 0;

  constructor(leftOutByWriter: number) {
    this.skip = leftOutByWriter;
  }

  handed(batch: readonly RecordSlice[]): void {
    for (const s of batch) if (s.to > s.from) this.pending.push(s);
  }

  acked(ack: WriteAck): void {
    this.records += ack.written;
    this.refused += ack.failed.length;
    let n = ack.written + ack.failed.length;
    while (n > 0 && this.pending.length > 0) {
      const s = this.pending[0]!;
      const left = s.to - s.from;
      const skipped = Math.min(this.skip, left);
      this.skip -= skipped;
      const take = Math.min(n, left - skipped);
      if (take > 0) {
        const first = BigInt(s.cols.position[s.from + skipped]!);
        this.first ??= first;
        this.last = BigInt(s.cols.position[s.from + skipped + take - 1]!);
        n -= take;
      }
      if (skipped + take === left) this.pending.shift();
      else this.pending[0] = { cols: s.cols, from: s.from + skipped + take, to: s.to };
    }
  }
}

/** Damage found mid-restore: the restore stopped at once; `published` says what is on the target. */
export class RestoreStopped extends MqbakError {
  constructor(
    cause: MqbakError,
    readonly published: readonly PublishedStream[],
  ) {
    const some = published.some((p) => p.records > 0);
    super('integrity', `${cause.message}; the restore stopped there${some ? ' (what was published is listed above)' : ', nothing was published'}`, {
      hint: some
        ? 'the records listed above are on the target; the same restore run again once the store is repaired continues after them (its journal), or restore another backup (--backup <id>)'
        : 'mqbak verify <store> <backup-id> lists the damage; restore another backup (--backup <id>) or repair the store',
      cause,
    });
  }
}
