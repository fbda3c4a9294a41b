/**
 * The restore pipeline, one for every broker (docs/ARCHITECTURE.md, "A restore"): resolve the
 * chain, plan (restore-planner.ts), then with the adapter's sink: prepare the targets, write each
 * stream's records in order (at most sink.parallelism streams at once), keep the restore journal
 * (restore-journal.ts) so that running the same restore again continues where it stopped, write
 * the offset map (offset-map.ts) and let the sink finish (consumer positions...).
 */
import type { AdapterContext, BrokerAdapter, BrokerSink, JournalEntry, OffsetRun, SinkPlan, StreamWriter, WriteAck } from '../brokers/adapter.js';
import { loadZstdDecompressor, pooledZstdCodec, type PooledBlockCodec } from '../archive/codec.js';
import { releasesEarlierWrites } from '../common/block-bytes.js';
import { MqbakError, throwIfAborted } from '../common/errors.js';
import type { Progress } from '../common/progress.js';
import type { RecordColumns, RecordSlice } from '../common/record.js';
import type { Store } from '../stores/store.js';
import { readStreamColumns, resolveChain, streamFitsColumns, type CheckedSegments } from './backup-reader.js';
import { forEachBounded } from './bounded.js';
import { acquireLock } from './store-lock.js';
import { writeOffsetMap } from './offset-map.js';
import { planRestore, type PlannedStream, type RestorePlan } from './restore-planner.js';
import { readJournal, writeJournal, type RestoreJournal } from './restore-journal.js';
import { preflight, type PreflightMode } from './restore-preflight.js';
import { PublishedTracker, RestoreStopped } from './restore-published.js';
import { checkRestore, type CheckResult } from './restore-check.js';
import { readingAhead } from './restore-read-ahead.js';

export interface RestoreOptions {
  adapter: BrokerAdapter;
  store: Store;
  /** The target URL as given. */
  url: string;
  adapterOptions: Readonly<Record<string, unknown>>;
  backupId: string | 'latest';
  /** Selectors to restore (--streams); all when empty. */
  streams: string[];
  renames: Record<string, string>;
  /** Leave out records with timestamps after this (ms since the epoch); records without one are kept. */
  until: number | null;
  dryRun: boolean;
  /** What is checked before the first publish (restore-preflight.ts); default 'full'. */
  preflight?: PreflightMode;
  offsetMapPath?: string;
  /** --check: read the targets back and compare them with the archive (restore-check.ts). */
  check?: boolean;
  /** Where the journal of this restore lives (computed by the caller from store, backup, target, selection). */
  journalPath: (backupId: string) => string;
  /** How long to wait for another process's conflicting store lock before refusing (default 0). */
  lockWaitMs?: number;
  signal: AbortSignal;
  progress: Progress;
  debug: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

export interface StreamRestoreResult {
  name: string;
  plan: PlannedStream;
  /** Records the broker acknowledged in this run. */
  restored: number;
  failed: number;
  /** Left out by --until. */
  skipped: number;
  /** Restored by an interrupted earlier run of the same restore. */
  alreadyRestored: number;
  /** The first few failure reasons. */
  failures: string[];
  /** What the broker acknowledged, by source position (for a restore stopped by damage). */
  published: PublishedTracker | null;
}

export interface RestoreResult {
  plan: RestorePlan;
  dryRun: boolean;
  resumed: boolean;
  journalPath: string | null;
  streams: StreamRestoreResult[];
  restored: number;
  failed: number;
  skipped: number;
  alreadyRestored: number;
  runs: OffsetRun[];
  /** The adapter's lines and result keys: restorePlanNotes, replaced by finish's after a restore. */
  notes: { lines: string[]; json: Record<string, unknown> };
  warnings: string[];
  /** --check's result; absent when not asked for, or when records failed (nothing to compare whole). */
  check?: CheckResult;
}

/** Failure reasons kept per stream for the result. */
const FAILURES_KEPT = 5;
/** How often the journal is saved while writing (RabbitMQ's settled prefix moves with every confirm). */
const JOURNAL_EVERY_MS = 2000;

export async function restore(o: RestoreOptions): Promise<RestoreResult> {
  const chain = await resolveChain(o.store, o.backupId, { signal: o.signal });
  const head = chain[chain.length - 1]!.manifest;
  if (head.source.broker !== o.adapter.name) {
    throw new MqbakError('usage', `backup ${head.id} is a ${head.source.broker} backup, not ${o.adapter.title}`, {
      hint: `restore it into a ${head.source.broker} target`,
    });
  }
  const plan = planRestore(
    chain.map((c) => c.manifest),
    o.adapter,
    { streams: o.streams, renames: o.renames },
  );
  // records reach the sink as columns, whose positions are numbers
  for (const s of plan.streams) {
    for (const part of s.parts) {
      if (!streamFitsColumns(part.stream)) {
        throw new MqbakError('unsupported', `stream ${part.stream.name}: positions ${part.stream.from}..${part.stream.to} reach past 2^53, which a restore does not handle`);
      }
    }
  }
  const sinkPlan = { backupId: plan.backupId, metadata: head.metadata, renames: plan.renames, targets: plan.streams };
  const notes = o.adapter.restorePlanNotes(sinkPlan, o.adapterOptions);
  const result: RestoreResult = {
    plan,
    dryRun: o.dryRun,
    resumed: false,
    journalPath: null,
    streams: plan.streams.map((p) => ({ name: p.name, plan: p, restored: 0, failed: 0, skipped: 0, alreadyRestored: 0, failures: [], published: null })),
    restored: 0,
    failed: 0,
    skipped: 0,
    alreadyRestored: 0,
    runs: [],
    notes,
    warnings: [],
  };
  if (o.dryRun) return result;
  // --check's option checks refuse before anything is written, not after
  if (o.check) await o.adapter.readBack?.(sinkPlan, o.adapterOptions, o.env);

  // a forget or prune must not remove what is being read; a read-only store still restores
  const lock = await acquireLock(o.store, 'shared', { command: 'restore', signal: o.signal, waitMs: o.lockWaitMs, onWait: (w) => o.progress.info(w), withoutLockIfReadOnly: (why) => o.progress.warn(why) });
  try {
    // nothing is created or published on the target before what it replays was checked; the sink
    // opens (connects, creating nothing: BrokerAdapter.openSink) while the preflight reads. A failed
    // preflight stops the opening at once (a target slow to answer does not delay the error), and
    // a failed opening stops the preflight (a wrong address is not reported after a long check)
    const dropped = new AbortController();
    const unreachable = new AbortController();
    const ctx: AdapterContext = { signal: AbortSignal.any([o.signal, dropped.signal]), progress: o.progress, debug: o.debug, env: o.env, zstd: () => loadZstdDecompressor() };
    const opening = settled(o.adapter.openSink(o.url, o.adapterOptions, ctx));
    void opening.then((r) => {
      if (!r.ok) unreachable.abort();
    });
    let checked: CheckedSegments;
    try {
      checked = await preflight(o.store, plan, o.preflight ?? 'full', AbortSignal.any([o.signal, unreachable.signal]), o.progress);
    } catch (e) {
      const stoppedByTarget = unreachable.signal.aborted && !o.signal.aborted;
      dropped.abort();
      const opened = await opening;
      // the opening's error when it is what stopped the preflight, else the preflight's
      if (!opened.ok && stoppedByTarget) throw opened.error;
      if (opened.ok) await opened.value.close().catch(() => {});
      throw e;
    }
    const opened = await opening;
    if (!opened.ok) throw opened.error;
    return await write(o, plan, sinkPlan, result, checked, opened.value);
  } finally {
    await lock.release();
  }
}

/** A promise's outcome as a value: awaited later, its rejection is never unhandled meanwhile. */
async function settled<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  try {
    return { ok: true, value: await p };
  } catch (error) {
    return { ok: false, error };
  }
}

async function write(o: RestoreOptions, plan: RestorePlan, sinkPlan: SinkPlan, result: RestoreResult, checked: CheckedSegments, sink: BrokerSink): Promise<RestoreResult> {
  const path = o.journalPath(plan.backupId);
  result.journalPath = path;
  let previous = await readJournal(path).catch(async (e: unknown) => {
    await sink.close().catch(() => {});
    throw e;
  });
  if (previous && (previous.backupId !== plan.backupId || previous.completed)) previous = null; // a finished restore run again is a new restore
  result.resumed = previous !== null;
  if (previous) o.progress.info(`continuing the interrupted restore (journal ${path})`);
  const saved = new Map<string, JournalEntry>(Object.entries(previous?.streams ?? {}));
  const journal: RestoreJournal = { version: 2, backupId: plan.backupId, target: o.adapter.redactUrl(o.url), streams: { ...(previous?.streams ?? {}) }, completed: false };
  const open = new Map<string, StreamWriter>();
  let saving: Promise<void> = Promise.resolve();
  /** Saves are chained: the file always holds the newest state, written atomically. */
  const save = (): Promise<void> => {
    for (const [name, w] of open) journal.streams[name] = w.journal();
    const snapshot = JSON.parse(JSON.stringify(journal)) as RestoreJournal;
    saving = saving.then(() => writeJournal(path, snapshot));
    return saving;
  };

  let finished = false;
  try {
    await sink.prepare(sinkPlan, previous ? saved : null, o.signal);
    o.progress.phase(`restoring ${plan.streams.length} ${o.adapter.streamNoun}(s)`);
    let lastSave = Date.now();
    // the streams written at once share the memory blocks are decompressed into
    const blocks = pooledZstdCodec();
    const perStream = await stopOnDamage(result.streams, forEachBounded(result.streams, Math.max(1, sink.parallelism), o.signal, async (sr, signal) => {
      const w = await sink.openStream(sr.plan, saved.get(sr.name) ?? null, signal);
      open.set(sr.name, w);
      // before the first write: the entry tells a rerun where this stream stood
      await save();
      const runs = await writeStream(o, sr, w, blocks, checked, signal, () => {
        if (Date.now() - lastSave < JOURNAL_EVERY_MS) return;
        lastSave = Date.now();
        void save().catch(() => {});
      });
      open.delete(sr.name);
      journal.streams[sr.name] = w.journal();
      // an interrupt closes connections: what was unconfirmed then failed, which is not a result
      throwIfAborted(o.signal);
      return runs;
    }));
    // in plan order, whatever order the streams finished in
    for (const runs of perStream) result.runs.push(...runs);
    for (const s of result.streams) {
      result.restored += s.restored;
      result.failed += s.failed;
      result.skipped += s.skipped;
      result.alreadyRestored += s.alreadyRestored;
    }
    const done = await sink.finish(result.runs, o.signal);
    result.notes = { lines: done.lines, json: { ...result.notes.json, ...done.json } };
    if (o.offsetMapPath) await writeOffsetMap(o.offsetMapPath, result.runs);
    // a restore with failures stays open, so that running it again retries exactly those
    finished = result.failed === 0;
  } finally {
    // the last word, also after an error or an interrupt: what a rerun may skip
    journal.completed = finished;
    await save().catch((e: unknown) => {
      if (finished) throw e;
    });
    result.warnings.push(...sink.warnings());
    await sink.close();
  }
  if (result.alreadyRestored > 0) result.warnings.push(`${result.alreadyRestored} record(s) were restored by the interrupted earlier run and skipped`);
  for (const w of result.warnings) o.progress.warn(w);
  if (o.check && result.failed === 0) {
    result.check = await checkRestore(o, { ...sinkPlan, targets: plan.streams }, result.runs);
    for (const w of result.check.warnings) o.progress.warn(w);
  }
  return result;
}

/**
 * One stream: the chain's blocks in order, filtered by --until and the resume point, written two
 * at a time. To a writer that says when it is done with a block's bytes (ReleasesEarlierWrites),
 * blocks are decompressed into `blocks`' memory, handed back once a later write settled. Segments
 * in `checked` (read whole by the preflight) are read with their size and SHA-256 checked, not
 * their blocks' CRC-32s again (CheckedSegments, backup-reader.ts).
 */
async function writeStream(o: RestoreOptions, sr: StreamRestoreResult, w: StreamWriter, blocks: PooledBlockCodec, checked: CheckedSegments, signal: AbortSignal, tick: () => void): Promise<OffsetRun[]> {
  const resume = w.resume;
  // resume.records: the writer leaves the first ones out itself; resume.through: here
  if (resume?.records !== undefined) sr.alreadyRestored = resume.records;
  const through = resume?.through;
  const retry = resume?.retry;
  const published = new PublishedTracker(resume?.records ?? 0);
  sr.published = published;
  const count = (ack: WriteAck) => {
    published.acked(ack);
    sr.restored += ack.written;
    sr.failed += ack.failed.length;
    for (const f of ack.failed) if (sr.failures.length < FAILURES_KEPT) sr.failures.push(f.reason);
    o.progress.update({ stream: o.adapter.describe(sr.plan.target), records: sr.restored + sr.failed + sr.alreadyRestored, total: sr.plan.records });
    tick();
  };
  const pool = releasesEarlierWrites(w) ? blocks : null;
  /** Blocks read, by the number of the write given their records (or of the next, when none was) */
  const lent: Array<{ bytes: Uint8Array; write: number }> = [];
  /** Once write `settled` settled: the blocks of the writes before it go back to the pool. */
  const release = (settled: number) => {
    while (lent.length > 0 && lent[0]!.write < settled) pool!.release(lent.shift()!.bytes);
  };
  let writes = 0;
  let inFlight: Promise<WriteAck> | null = null;
  let inFlightWrite = 0;
  const send = async (batch: RecordSlice[]) => {
    published.handed(batch);
    // the user's signal, not the lane's: when another stream stops on damage, what this one has
    // on the wire is acknowledged and counted (the lane's signal stops it from sending more)
    const next = w.write(batch, o.signal);
    next.catch(() => {}); // awaited below or by the next send
    if (inFlight) {
      count(await inFlight);
      release(inFlightWrite);
    }
    inFlight = next;
    inFlightWrite = writes++;
  };
  // from a remote store the next segment downloads while this one is decoded and published (restore-read-ahead.ts)
  const source = o.store.remote ? readingAhead(o.store, sr.plan.parts.flatMap((p) => p.stream.segments.map((g) => g.key)), signal) : o.store;
  try {
    for (const part of sr.plan.parts) {
      for await (const cols of readStreamColumns(source, part.stream, { signal, codec: pool ?? undefined, checked })) {
        if (pool) lent.push({ bytes: cols.bytes, write: writes });
        const batch = keep(cols, o.until, through, retry, sr);
        if (batch.length > 0) await send(batch);
      }
    }
    // the end: whatever the writer held back to fill a request goes out now
    await send([]);
    if (inFlight) count(await inFlight);
    inFlight = null;
  } finally {
    // nothing of this stream is still on the wire when it returns or throws; what it
    // acknowledged counts (a restore stopped by damage says what was published)
    if (inFlight) await (inFlight as Promise<WriteAck>).then(count, () => {});
  }
  const runs = await w.close();
  if (pool) release(Infinity);
  return runs;
}

/**
 * Damage found while writing (the archive changed after the preflight, or --preflight sizes):
 * every stream has stopped (forEachBounded); the error says what each had published.
 */
async function stopOnDamage<R>(streams: readonly StreamRestoreResult[], writing: Promise<R>): Promise<R> {
  try {
    return await writing;
  } catch (e) {
    if (!(e instanceof MqbakError) || e.code !== 'integrity') throw e;
    throw new RestoreStopped(
      e,
      streams.map((s) => ({
        name: s.name,
        source: s.plan.source,
        target: s.plan.target,
        first: s.published?.first ?? null,
        last: s.published?.last ?? null,
        records: s.published?.records ?? 0,
        refused: s.published?.refused ?? 0,
        earlier: s.alreadyRestored,
      })),
    );
  }
}

/** The records of a block to write: without those after --until and those an earlier run settled. */
function keep(cols: RecordColumns, until: number | null, through: bigint | undefined, retry: ReadonlySet<bigint> | undefined, sr: StreamRestoreResult): RecordSlice[] {
  const out: RecordSlice[] = [];
  let start = -1;
  for (let i = 0; i < cols.count; i++) {
    let wanted = true;
    if (until !== null && cols.timestamp[i]! > until) {
      // NaN (no timestamp) compares false: kept
      sr.skipped++;
      wanted = false;
    } else if (through !== undefined) {
      const p = BigInt(cols.position[i]!);
      if (p <= through && !(retry?.has(p) ?? false)) {
        sr.alreadyRestored++;
        wanted = false;
      }
    }
    if (wanted && start < 0) start = i;
    if (!wanted && start >= 0) {
      out.push({ cols, from: start, to: i });
      start = -1;
    }
  }
  if (start >= 0) out.push({ cols, from: start, to: cols.count });
  return out;
}
