/**
 * What `mqbak prune` may delete, pure (docs/RETENTION.md): from the manifests that remain and a
 * listing of the store. A segment is deleted only when no remaining manifest refers to it
 * (manifests may share segments, so references are counted over all of them), and then only
 * when its backup was forgotten by this run or when it is older than the grace period: a backup
 * still being written has segments and no manifest yet, and must not lose them.
 */
import { backupIdTime, idOfSegmentKey } from '../archive/keys.js';

export interface ListedObject {
  key: string;
  size: number;
  /** When the store last wrote it (ms since the epoch), where the store tells. */
  modified: number | null;
}

export interface PruneInput {
  /** The segment keys every remaining manifest refers to. */
  referenced: ReadonlySet<string>;
  /** Every object under segments/. */
  segments: readonly ListedObject[];
  /** Backups this run forgot: their unreferenced segments go without waiting for the grace period. */
  forgotten: ReadonlySet<string>;
  now: number;
  graceMs: number;
}

export interface PrunePlan {
  /** Segment keys to delete, in key order (one backup's segments together). */
  delete: string[];
  bytes: number;
  /** Unreferenced segments younger than the grace period, left for a later prune. */
  young: Array<{ key: string; size: number }>;
  /** Objects under segments/ whose key is not a segment key mqbak writes: never touched. */
  unknown: string[];
}

export function planPrune(input: PruneInput): PrunePlan {
  const plan: PrunePlan = { delete: [], bytes: 0, young: [], unknown: [] };
  for (const o of [...input.segments].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    if (input.referenced.has(o.key)) continue;
    const id = idOfSegmentKey(o.key);
    if (id === null) {
      plan.unknown.push(o.key);
      continue;
    }
    // the backup's start time is in its id; the object's own time is later still
    const started = Date.parse(backupIdTime(id)!);
    const newest = Math.max(started, o.modified ?? started);
    if (input.forgotten.has(id) || input.now - newest >= input.graceMs) {
      plan.delete.push(o.key);
      plan.bytes += o.size;
    } else plan.young.push({ key: o.key, size: o.size });
  }
  return plan;
}

/**
 * The order forget deletes manifests in: newest first. A removed backup's descendants are all
 * removed too (a kept backup keeps its ancestors), so deleting children before parents means a
 * forget killed at any instant leaves every remaining backup with its whole chain.
 */
export function manifestDeleteOrder(ids: readonly string[]): string[] {
  return [...ids].sort().reverse();
}
