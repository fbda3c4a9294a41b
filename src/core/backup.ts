/**
 * The backup pipeline, one for every broker (docs/ARCHITECTURE.md, "A backup"): the adapter's
 * source selects the streams and notes their cut; the parent is the newest backup with the same
 * chain key; log and snapshot streams are read into one backup; then each drain stream is read
 * checkpoint by checkpoint, every checkpoint a backup of its own, committed before the source
 * settles (removes) what it holds.
 */
import type { AdapterContext, BrokerAdapter, BrokerSource, ReadRequest, RecordSink, SourceSelection, SourceStream } from '../brokers/adapter.js';
import type { Manifest } from '../archive/manifest.js';
import { loadZstdDecompressor, type BlockCodec } from '../archive/codec.js';
import { createZstdPool, defaultPoolSize } from '../archive/zstd-pool.js';
import { throwIfAborted, withContext } from '../common/errors.js';
import type { Progress } from '../common/progress.js';
import type { Store } from '../stores/store.js';
import { findLatest, resolveChain, type LoadedManifest } from './backup-reader.js';
import { acquireLock } from './store-lock.js';
import { startsNewChain, type FullEvery } from './full-every.js';
import { openBackupWriter, type BackupWriter, type StreamWriter } from './backup-writer.js';

export interface BackupOptions {
  adapter: BrokerAdapter;
  /** The source URL as given (the adapter redacts it for the manifest). */
  url: string;
  /** The adapter's own option values (commander camel-case names). */
  adapterOptions: Readonly<Record<string, unknown>>;
  store: Store;
  /** Write a full backup even when a parent exists. */
  full: boolean;
  /** Start a new chain when the parent's chain is this old or this long (--full-every). */
  fullEvery?: FullEvery;
  toolVersion: string;
  segmentSize?: number;
  level?: number;
  /** How long to wait for another process's conflicting store lock before refusing (default 0). */
  lockWaitMs?: number;
  signal: AbortSignal;
  progress: Progress;
  debug: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

/** One source stream over the whole run (a drain stream spans several checkpoint backups). */
export interface StreamResult {
  name: string;
  address: SourceStream['address'];
  from: string;
  to: string;
  records: number;
  gaps: Array<{ from: string; to: string; reason: string }>;
  /** Drain streams: records the source settled (removed) after their checkpoint was committed. */
  acked: number;
}

export interface BackupResult {
  /** Every backup committed by this run, oldest first (a drain commits one per checkpoint). */
  backups: Array<{ manifest: Manifest; sha256: string }>;
  selection: SourceSelection;
  streams: StreamResult[];
  records: number;
  warnings: string[];
  /** The adapter's lines and per-stream facts for the user (BrokerSource.report). */
  report: { lines: string[]; streams: Record<string, Record<string, unknown>> };
}

/** Blocks of one stream being compressed at once (each holds one block of raw bytes). */
const COMPRESS_IN_FLIGHT = 2;

export async function backup(o: BackupOptions): Promise<BackupResult> {
  const ctx: AdapterContext = { signal: o.signal, progress: o.progress, debug: o.debug, env: o.env, zstd: () => loadZstdDecompressor() };
  // Before the source is opened: a store that is not there (a file for a folder, a missing
  // bucket), cannot be written (read-only, full, refused: the lock is the first write) or is held
  // by a forget or prune (past --lock-wait) stops the backup here, when nothing was read, no
  // message redelivered.
  await o.store.check('write', { signal: o.signal });
  const lock = await acquireLock(o.store, 'shared', { command: 'backup', signal: o.signal, waitMs: o.lockWaitMs, onWait: (w) => o.progress.info(w) });
  let source: BrokerSource;
  try {
    source = await o.adapter.openSource(o.url, o.adapterOptions, ctx);
  } catch (e) {
    await lock.release();
    throw e;
  }
  // compression in worker threads, so that reading and encoding (this thread) and zstd run on
  // separate cores. One worker at level 1 outpaces a broker read on one core; a second is
  // headroom; more would only cost memory (each worker holds its own zstd heap).
  const pool = createZstdPool({ size: Math.min(2, defaultPoolSize()) });
  try {
    return await run(o, source, pool);
  } catch (e) {
    throw withContext(e, `${o.adapter.name} backup`, 'internal');
  } finally {
    await source.close().catch(() => {});
    await pool.close();
    await lock.release();
  }
}

async function run(o: BackupOptions, source: BrokerSource, codec: BlockCodec): Promise<BackupResult> {
  const selection = await source.select();
  const warnings: string[] = [];
  const warn = (m: string) => {
    if (!warnings.includes(m)) warnings.push(m);
  };
  const log = selection.streams.filter((s) => s.mode !== 'drain');
  const drains = selection.streams.filter((s) => s.mode === 'drain');

  // A snapshot is everything a stream holds now: it never builds on a parent, nor does the
  // backup it is part of.
  let parent: LoadedManifest | null = null;
  if (!o.full && !selection.streams.some((s) => s.mode === 'snapshot')) parent = await findLatest(o.store, selection.chainKey, { signal: o.signal });
  if (parent) parent = checkParent(o, parent, selection.streams, warn);
  if (parent && o.fullEvery) {
    const chain = await resolveChain(o.store, parent.manifest.id, { signal: o.signal });
    const full = chain[0]!.manifest;
    const next = startsNewChain(o.fullEvery, { fullTime: Date.parse(full.startedAt), chainLength: chain.length }, Date.now());
    if (next.yes) {
      o.progress.info(`starting a new chain: ${next.why}`);
      parent = null;
    }
  }
  const lastTo = new Map<string, bigint>();
  for (const s of parent?.manifest.streams ?? []) lastTo.set(s.name, BigInt(s.to));

  // metadata before any read: consumer positions committed during the backup are saved as they were at the cut
  const meta = await source.metadata(selection);

  const backups: Array<{ manifest: Manifest; sha256: string }> = [];
  const results = new Map<string, StreamResult>();
  let current = parent;
  // what select() and metadata() warned about holds for every backup of the run; the rest for the first
  const everyBackup = [...selection.warnings, ...meta.warnings];
  let firstOnly = [...warnings];

  const shownOnce = onceEach(o.progress);
  const newWriter = async (): Promise<BackupWriter> => {
    const w = await openBackupWriter({
      store: o.store,
      kind: current ? 'incremental' : 'full',
      parent: current ? { id: current.manifest.id, sha256: current.sha256 } : null,
      source: { broker: o.adapter.name, url: o.adapter.redactUrl(o.url), chainKey: selection.chainKey, options: selection.options },
      toolVersion: o.toolVersion,
      segmentSize: o.segmentSize,
      level: o.level,
      signal: o.signal,
      progress: shownOnce,
      codec,
      compressConcurrency: COMPRESS_IN_FLIGHT,
    });
    for (const [k, v] of Object.entries(meta.metadata)) w.setMetadata(k, v);
    for (const m of everyBackup) w.warn(m);
    for (const m of firstOnly) w.warn(m);
    firstOnly = [];
    return w;
  };
  const commit = async (w: BackupWriter): Promise<void> => {
    const c = await w.commit();
    backups.push(c);
    current = { manifest: c.manifest, sha256: c.sha256 };
    for (const s of c.manifest.streams) {
      lastTo.set(s.name, BigInt(s.to));
      const address = selection.streams.find((x) => x.name === s.name)?.address ?? s.address;
      const r = results.get(s.name);
      if (!r) results.set(s.name, { name: s.name, address, from: s.from, to: s.to, records: s.records, gaps: [...s.gaps], acked: 0 });
      else Object.assign(r, { to: s.to, records: r.records + s.records, gaps: [...r.gaps, ...s.gaps] });
    }
    for (const m of c.manifest.warnings) warn(m);
  };

  // log and snapshot streams together, in one backup: reading them removes nothing
  if (log.length > 0 || drains.length === 0) {
    const w = await newWriter();
    try {
      const requests: Array<ReadRequest & { writer: StreamWriter }> = log.map((stream) => {
        let from = stream.mode === 'log' ? (lastTo.get(stream.name) ?? stream.start ?? 0n) : 0n;
        const writer = w.openStream({ name: stream.name, address: stream.address, from, extra: extraOf(stream) });
        if (stream.mode === 'log' && stream.start !== null && from < stream.start) {
          writer.addGap(from, stream.start, 'retention');
          w.warn(`${o.adapter.describe(stream.address)}: offsets ${from}..${stream.start - 1n} were deleted by retention before they were backed up`);
          from = stream.start;
        }
        return { stream, from, out: recordSink(writer, w), writer };
      });
      if (requests.length > 0) {
        o.progress.phase(`backing up ${requests.length} stream(s)`);
        const outcome = await source.read(requests, { signal: o.signal });
        for (const r of requests) await r.writer.close(maxOf(outcome.to.get(r.stream.name) ?? r.from, r.from));
      }
      await commit(w);
    } catch (e) {
      await w.abort().catch(() => {});
      throw e;
    }
  }

  // drain streams one at a time, checkpoint by checkpoint
  for (const stream of drains) {
    throwIfAborted(o.signal);
    await drain({ o, source, lastTo, results, newWriter, commit, nothingCommitted: () => backups.length === 0 }, stream).catch((e: unknown) => {
      throw withContext(e, o.adapter.describe(stream.address), 'unreachable');
    });
  }

  const records = backups.reduce((n, b) => n + b.manifest.streams.reduce((m, s) => m + s.records, 0), 0);
  const report = source.report();
  return { backups, selection, streams: [...results.values()], records, warnings, report };
}

/** What draining a stream needs of the run it is part of. */
interface DrainRun {
  o: BackupOptions;
  source: BrokerSource;
  /** Each stream's `to` in the newest backup of the chain: where its next checkpoint starts. */
  lastTo: Map<string, bigint>;
  results: Map<string, StreamResult>;
  /** A writer for the next backup of the chain, its parent the last one committed. */
  newWriter: () => Promise<BackupWriter>;
  commit: (w: BackupWriter) => Promise<void>;
  /** Whether the run has committed no backup yet (then even an empty checkpoint is committed). */
  nothingCommitted: () => boolean;
}

/**
 * Reads one drain stream in checkpoints: each is committed as a backup, and only then settled.
 * A crash between the two leaves the messages on the broker, read again by the next run (the
 * adapter flags them as possible duplicates). The run's first checkpoint is committed even when
 * empty, so that a backup run always leaves a backup.
 */
async function drain(run: DrainRun, stream: SourceStream): Promise<void> {
  const { o, source, lastTo, results, newWriter, commit, nothingCommitted } = run;
  for (;;) {
    throwIfAborted(o.signal);
    const from = lastTo.get(stream.name) ?? 0n;
    const w = await newWriter();
    let settle: (() => Promise<void>) | undefined;
    let more = false;
    let records = 0;
    try {
      const writer = w.openStream({ name: stream.name, address: stream.address, from, extra: extraOf(stream) });
      const outcome = await source.read([{ stream, from, out: recordSink(writer, w) }], { signal: o.signal });
      const to = maxOf(outcome.to.get(stream.name) ?? from, from);
      settle = outcome.settle;
      more = Boolean(outcome.more);
      // nothing delivered: no backup for that, unless the run would otherwise leave none
      if (to === from && !settle && !nothingCommitted()) {
        await w.abort();
        return;
      }
      // counted, not computed from the positions: a drain's positions may have gaps (stream sequences)
      records = (await writer.close(to)).records;
      await commit(w);
    } catch (e) {
      await w.abort().catch(() => {});
      throw e;
    }
    if (settle) {
      await settle();
      const r = results.get(stream.name);
      if (r) r.acked += records;
    }
    if (!more || records === 0) return;
  }
}

/**
 * A parent whose stream has another lineage, or ends after the source's cut, is of an earlier
 * life of the source (deleted and created again): start a new full backup.
 */
function checkParent(o: BackupOptions, parent: LoadedManifest, streams: SourceStream[], warn: (m: string) => void): LoadedManifest | null {
  for (const s of streams) {
    const p = parent.manifest.streams.find((x) => x.name === s.name);
    if (!p) continue;
    const before = p.extra.lineage;
    if (s.lineage !== undefined && typeof before === 'string' && before !== s.lineage) {
      warn(`${o.adapter.describe(s.address)} is not the one backup ${parent.manifest.id} read (${before}, now ${s.lineage}: recreated?): writing a new full backup`);
      return null;
    }
    if (s.mode !== 'log' || s.end === null || s.end >= BigInt(p.to)) continue;
    warn(`${o.adapter.describe(s.address)} ends at ${s.end}, before ${p.to} where backup ${parent.manifest.id} ended (recreated?): writing a new full backup`);
    return null;
  }
  return parent;
}

/** The stream's manifest extra: the adapter's facts and its lineage. */
function extraOf(s: SourceStream): Record<string, unknown> {
  return s.lineage === undefined ? s.extra : { ...s.extra, lineage: s.lineage };
}

/** The backup writer's stream as the adapter sees it; warnings go into the manifest. */
function recordSink(s: StreamWriter, w: BackupWriter): RecordSink {
  return {
    append: (r) => s.append(r),
    appendMany: (rs) => s.appendMany(rs),
    appendColumns: (c) => s.appendColumns(c),
    addGap: (from, to, reason) => s.addGap(from, to, reason),
    setExtra: (k, v) => s.setExtra(k, v),
    warn: (m) => w.warn(m),
    end: () => s.end(),
  };
}

/** Every backup of a run records the run's warnings; the user sees each once. */
function onceEach(p: Progress): Progress {
  const shown = new Set<string>();
  return {
    phase: (m) => p.phase(m),
    update: (c) => p.update(c),
    info: (m) => p.info(m),
    warn: (m) => {
      if (shown.has(m)) return;
      shown.add(m);
      p.warn(m);
    },
  };
}

function maxOf(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

