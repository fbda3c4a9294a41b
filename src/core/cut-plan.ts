/**
 * The plan of a cut (docs/RETENTION.md, "Cutting old data"), pure: from a resolved chain (full
 * first) and a cutoff time, the streams of a new full backup that holds the same records as the
 * chain's head from the first segment holding a record at or after the cutoff, by reference to
 * the chain's own segments. Segments are kept or left out whole, and only as a prefix of each
 * stream, so that what remains is contiguous: a segment with a newer record, or with records
 * without a timestamp, keeps itself and everything after it.
 */
import type { Manifest, StreamEntry } from '../archive/manifest.js';
import { idOfSegmentKey } from '../archive/keys.js';
import { MqbakError } from '../common/errors.js';

export interface CutStreamSummary {
  name: string;
  keptSegments: number;
  keptRecords: number;
  droppedSegments: number;
  droppedRecords: number;
  droppedBytes: number;
}

export interface CutPlan {
  /** The head of the chain: what the cut restores to. */
  of: string;
  /** The new full backup's streams. */
  streams: StreamEntry[];
  summary: CutStreamSummary[];
  /** Backups whose segments the cut refers to, oldest first. */
  referenced: string[];
}

export function planCut(chain: readonly Manifest[], cutoffMs: number): CutPlan {
  const head = chain[chain.length - 1];
  if (!head) throw new MqbakError('internal', 'empty chain');
  const parts = new Map<string, StreamEntry[]>();
  for (const m of chain) {
    for (const s of m.streams) {
      const list = parts.get(s.name) ?? [];
      list.push(s);
      parts.set(s.name, list);
    }
  }
  const streams: StreamEntry[] = [];
  const summary: CutStreamSummary[] = [];
  const referenced = new Set<string>();
  for (const [name, list] of parts) {
    const first = list[0]!;
    const last = list[list.length - 1]!;
    const segments = list.flatMap((s) => s.segments);
    let drop = 0;
    while (drop < segments.length) {
      const t = segments[drop]!.lastTimestamp;
      if (t === null || t >= cutoffMs) break;
      drop++;
    }
    const dropped = segments.slice(0, drop);
    const kept = segments.slice(drop);
    // the range starts right after the last record left out: nothing in between was in the chain
    const from = drop === 0 ? BigInt(first.from) : BigInt(dropped[drop - 1]!.lastPosition) + 1n;
    const gaps = list
      .flatMap((s) => s.gaps)
      .filter((g) => BigInt(g.to) > from)
      .map((g) => (BigInt(g.from) < from ? { ...g, from: from.toString() } : g));
    const records = kept.reduce((n, g) => n + g.records, 0);
    streams.push({
      name,
      address: last.address,
      from: from.toString(),
      to: last.to,
      records,
      segments: kept.map((g) => ({ ...g })),
      gaps,
      extra: Object.assign({}, ...list.map((s) => s.extra)) as Record<string, unknown>,
    });
    for (const g of kept) referenced.add(g.key);
    summary.push({
      name,
      keptSegments: kept.length,
      keptRecords: records,
      droppedSegments: drop,
      droppedRecords: dropped.reduce((n, g) => n + g.records, 0),
      droppedBytes: dropped.reduce((n, g) => n + g.bytes, 0),
    });
  }
  // a segment belongs to the backup named in its key (a cut of a cut refers to older ones still)
  const owners = new Set([...referenced].map((k) => idOfSegmentKey(k) ?? k));
  return { of: head.id, streams, summary, referenced: [...owners].sort() };
}
