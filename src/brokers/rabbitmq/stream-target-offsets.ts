/**
 * Where restored messages landed in a stream-queue target. Publishing does not report the offset
 * a stream gives a message, so the restore notes where the stream ends before it publishes, keeps
 * a hash of each confirmed body in order, and reads the stream back from there: the n-th body
 * found is the n-th confirmed one (other publishers' messages in between are skipped). The
 * result is offset runs (docs/OFFSET-MAP.md): consecutive source positions that landed on
 * consecutive target offsets.
 */
import { createHash } from 'node:crypto';
import type { OffsetRun, StreamAddress } from '../adapter.js';
import type { RabbitConnection } from './connection.js';
import { scanStream, streamNextOffset } from './stream-probe.js';

export class StreamTargetOffsets {
  private readonly sent: Array<{ position: bigint; hash: string; ok: boolean }> = [];

  private constructor(
    private readonly queue: string,
    /** The offset the first restored message can have at the earliest. */
    private readonly start: bigint,
  ) {}

  static async open(conn: RabbitConnection, queue: string, signal: AbortSignal): Promise<StreamTargetOffsets> {
    return new StreamTargetOffsets(queue, (await streamNextOffset(conn, queue, signal)) ?? 0n);
  }

  /** Registers a published body; set `ok` on the returned entry once confirmed. */
  published(position: bigint, body: Uint8Array): { ok: boolean } {
    const t = { position, hash: createHash('sha1').update(body).digest('base64'), ok: false };
    this.sent.push(t);
    return t;
  }

  /**
   * Reads the target back and returns the runs, and a warning when some confirmed messages were
   * not found.
   */
  async runs(
    conn: RabbitConnection,
    ids: { stream: string; source: StreamAddress; target: StreamAddress; sourceQueue: string },
    signal: AbortSignal,
  ): Promise<{ runs: OffsetRun[]; warning: string | null }> {
    const confirmed = this.sent.filter((t) => t.ok);
    const runs: OffsetRun[] = [];
    let i = 0;
    if (confirmed.length > 0) {
      await scanStream(
        conn,
        this.queue,
        this.start,
        (offset, content) => {
          const want = confirmed[i]!;
          if (createHash('sha1').update(content).digest('base64') !== want.hash) return true;
          addToRuns(runs, ids, want.position, offset);
          i++;
          return i < confirmed.length;
        },
        { signal },
      );
    }
    const warning =
      i < confirmed.length
        ? `queue ${ids.sourceQueue}: the offset map covers ${i} of ${confirmed.length} restored messages (the rest were not found reading ${this.queue} back)`
        : null;
    return { runs, warning };
  }
}

/**
 * Records that source position `position` landed at target offset `offset`: the last run grows
 * when both follow on from it, otherwise a new run starts (a failed or skipped record, or another
 * publisher's messages in between). Positions come in source order.
 */
export function addToRuns(runs: OffsetRun[], ids: { stream: string; source: StreamAddress; target: StreamAddress }, position: bigint, offset: bigint): void {
  const run = runs[runs.length - 1];
  if (run !== undefined && position === run.sourceEnd + 1n && offset === run.targetStart + (position - run.sourceStart)) {
    run.sourceEnd = position;
    return;
  }
  runs.push({ stream: ids.stream, source: ids.source, target: ids.target, sourceStart: position, sourceEnd: position, targetStart: offset });
}
