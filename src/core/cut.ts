/**
 * mqbak cut: drops old data while the newest backups stay restorable, without reading the broker
 * (docs/RETENTION.md, "Cutting old data"). For the head of a chain, it writes a new full backup
 * (format 4) that refers to the chain's segments from the first one holding a record at or after
 * the cutoff; `forget` can then drop the old chain whole and `prune` delete the segments nobody
 * refers to any more (prune counts the references of every manifest, so shared segments stay).
 *
 * Nothing is copied or deleted: the one write is the new manifest, after every segment it refers
 * to was found in the store with its recorded size. Under the exclusive store lock, so that no
 * backup extends the chain meanwhile.
 */
import { masterKeyOf } from '../archive/encryption/store-key.js';
import { CUT_FORMAT_VERSION, type Manifest } from '../archive/manifest.js';
import { manifestKey, newBackupId } from '../archive/keys.js';
import { encodeStoredManifest } from '../archive/stored-manifest.js';
import { MqbakError, throwIfAborted, withContext } from '../common/errors.js';
import { silentProgress, type Progress } from '../common/progress.js';
import type { Store } from '../stores/store.js';
import { listBackups, resolveChain } from './backup-reader.js';
import { planCut, type CutPlan } from './cut-plan.js';
import { acquireLock } from './store-lock.js';

export interface CutOptions {
  store: Store;
  /** Records older than this (ms since the epoch) are left out, by whole segments. */
  beforeMs: number;
  /** The head to cut; by default the newest backup of each chain. */
  backupId?: string;
  dryRun?: boolean;
  toolVersion: string;
  lockWaitMs?: number;
  now?: () => number;
  /** The new backup's id (the golden fixtures'); by default a new one of the current time. */
  id?: string;
  signal?: AbortSignal;
  progress?: Progress;
}

export interface CutOutcome {
  plan: CutPlan;
  /** The new backup's id; null when nothing was left out (no cut written) or on a dry run. */
  id: string | null;
}

export interface CutResult {
  dryRun: boolean;
  before: string;
  cuts: CutOutcome[];
}

async function heads(o: CutOptions): Promise<string[]> {
  if (o.backupId !== undefined) return [o.backupId];
  const newest = new Map<string, string>();
  for (const b of await listBackups(o.store, { signal: o.signal })) newest.set(b.manifest.source.chainKey, b.manifest.id);
  return [...newest.values()].sort();
}

/** Every segment the cut refers to is there, with the size its manifest recorded. */
async function checkSegments(o: CutOptions, plan: CutPlan): Promise<void> {
  for (const s of plan.streams) {
    for (const g of s.segments) {
      throwIfAborted(o.signal);
      const info = await o.store.stat(g.key, { signal: o.signal }).catch((e: unknown) => {
        throw withContext(e, `look at segment ${g.key}`, 'unreachable');
      });
      if (info === null) throw new MqbakError('integrity', `segment ${g.key} of backup ${plan.of}'s chain is missing: no cut made`, { hint: `mqbak verify ${o.store.description} tells what else is damaged` });
      if (info.size !== g.bytes) throw new MqbakError('integrity', `segment ${g.key}: ${info.size} bytes, its manifest says ${g.bytes}: no cut made`, { hint: `mqbak verify ${o.store.description} tells what else is damaged` });
    }
  }
}

export async function cut(o: CutOptions): Promise<CutResult> {
  const progress = o.progress ?? silentProgress;
  const now = o.now ?? Date.now;
  const before = new Date(o.beforeMs).toISOString();
  const lock = o.dryRun ? null : await acquireLock(o.store, 'exclusive', { command: 'cut', signal: o.signal, waitMs: o.lockWaitMs, onWait: (w) => progress.info(w) });
  try {
    progress.phase(`reading the manifests of ${o.store.description}`);
    const result: CutResult = { dryRun: Boolean(o.dryRun), before, cuts: [] };
    for (const headId of await heads(o)) {
      const chain = await resolveChain(o.store, headId, { signal: o.signal });
      const head = chain[chain.length - 1]!.manifest;
      const plan = planCut(
        chain.map((c) => c.manifest),
        o.beforeMs,
      );
      const outcome: CutOutcome = { plan, id: null };
      result.cuts.push(outcome);
      if (o.dryRun || plan.summary.every((s) => s.droppedSegments === 0)) continue;
      progress.phase(`checking the ${plan.streams.reduce((n, s) => n + s.segments.length, 0)} segment(s) the cut of ${head.id} keeps`);
      await checkSegments(o, plan);
      const id = o.id ?? newBackupId(new Date(now()));
      if (id <= head.id) throw new MqbakError('unreachable', `backup ${head.id} is dated after this machine's clock (${id}): no cut made`, { hint: 'check the clock of this machine' });
      const at = new Date(now()).toISOString();
      const dropped = plan.summary.reduce((n, s) => n + s.droppedRecords, 0);
      const manifest: Manifest = {
        format: 'mqbak',
        version: CUT_FORMAT_VERSION,
        id,
        kind: 'full',
        parent: null,
        source: head.source,
        streams: plan.streams,
        metadata: head.metadata,
        tool: { name: 'mqbak', version: o.toolVersion },
        startedAt: at,
        endedAt: at,
        warnings: [`a cut of backup ${head.id}: ${dropped} record(s) older than ${before} left out, by whole segments`],
        cut: { of: head.id, before },
      };
      const bytes = encodeStoredManifest(manifest, masterKeyOf(o.store));
      throwIfAborted(o.signal);
      try {
        await o.store.put(manifestKey(id), bytes, { signal: o.signal });
      } catch (e) {
        throw withContext(e, `store the manifest of the cut ${id}`, 'unreachable');
      }
      outcome.id = id;
    }
    return result;
  } finally {
    await lock?.release();
  }
}
