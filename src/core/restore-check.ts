/**
 * `restore --check` (docs/RESTORE-CHECK.md): after a restore, every target stream is read back
 * through the adapter's own backup source (BrokerAdapter.readBack) and compared with what the
 * archive holds, record by record, in order: the count, and the key, value, headers, timestamp
 * and adapter attributes the adapter says must survive a restore, folded into one SHA-256 digest
 * per stream. Log targets are read over the offset runs the restore mapped (a target record is
 * matched to the source position its run gives); snapshot targets (RabbitMQ classic and quorum
 * queues, by a mirror read) are matched in order, and so are whole log targets when there are no
 * runs (--check-only: each target must hold exactly the restored records). The first difference
 * is named by stream and by source and target position.
 */
import { createHash, type Hash } from 'node:crypto';
import type { AdapterContext, BrokerAdapter, CheckedRecord, OffsetRun, RecordSink, SinkPlan, SourceStream } from '../brokers/adapter.js';
import { loadZstdDecompressor } from '../archive/codec.js';
import { canonicalJson } from '../common/canonical-json.js';
import { MqbakError } from '../common/errors.js';
import type { Progress } from '../common/progress.js';
import { columnRecord, type ArchiveRecord, type RecordColumns } from '../common/record.js';
import type { Store } from '../stores/store.js';
import { readStreamBatches } from './backup-reader.js';
import type { PlannedStream } from './restore-planner.js';

export interface CheckOptions {
  adapter: BrokerAdapter;
  store: Store;
  /** The target URL as given. */
  url: string;
  adapterOptions: Readonly<Record<string, unknown>>;
  /** --until of the restore: records after it were not restored and are not expected. */
  until: number | null;
  signal: AbortSignal;
  progress: Progress;
  debug: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

export type CheckedField = 'key' | 'value' | 'headers' | 'timestamp' | 'attributes';

export interface CheckDifference {
  /** The archive's stream name. */
  stream: string;
  /** The target stream, for people. */
  target: string;
  /** Of the archived record; null for a target record the archive does not hold. */
  sourcePosition: string | null;
  /** Where it was found on the target (a queue's: its place in the mirror read, from 0); null: not found. */
  targetPosition: string | null;
  /** 'missing': not on the target; 'extra': on the target, not in the archive; else the field that differs. */
  kind: 'missing' | 'extra' | CheckedField;
  message: string;
}

export interface StreamCheck {
  name: string;
  target: string;
  /** Records the archive holds for the restore (after --until). */
  expected: number;
  /** Records found on the target where the restore put them. */
  found: number;
  /** SHA-256 (hex) over the compared fields of every matched record, in order. */
  digest: string;
  difference: CheckDifference | null;
}

export interface CheckResult {
  ok: boolean;
  /** Records compared equal. */
  records: number;
  streams: StreamCheck[];
  /** The first difference, in plan order. */
  difference: CheckDifference | null;
  warnings: string[];
}

const FIELDS: readonly CheckedField[] = ['key', 'value', 'headers', 'timestamp', 'attributes'];

/**
 * Reads every target of `plan` back and compares it with the archive: over the offset runs the
 * restore mapped, or, with `runs` null, each target whole from its first position.
 */
export async function checkRestore(o: CheckOptions, plan: SinkPlan & { targets: readonly PlannedStream[] }, runs: readonly OffsetRun[] | null): Promise<CheckResult> {
  const readBack = await o.adapter.readBack?.(plan, o.adapterOptions, o.env);
  if (!readBack) throw new MqbakError('unsupported', `restore --check is not available for ${o.adapter.title}`);
  // the source's own phases say "backing up": the check says what it does itself
  const progress: Progress = { phase: () => {}, info: () => {}, update: (c) => o.progress.update(c), warn: (m) => o.progress.warn(m) };
  const ctx: AdapterContext = { signal: o.signal, progress, debug: o.debug, env: o.env, zstd: () => loadZstdDecompressor() };
  o.progress.phase(`checking ${plan.targets.length} ${o.adapter.streamNoun}(s) against the archive`);
  const result: CheckResult = { ok: true, records: 0, streams: [], difference: null, warnings: [] };
  const source = await o.adapter.openSource(o.url, readBack.sourceOptions, ctx);
  try {
    const selection = await source.select();
    const onTarget = new Map(selection.streams.map((s) => [o.adapter.describe(s.address), s]));
    for (const p of plan.targets) {
      const target = o.adapter.describe(p.target);
      const stream = onTarget.get(target);
      if (!stream) throw new MqbakError('integrity', `restore check: ${target} is not on the target`);
      const mine = (runs ?? []).filter((r) => r.stream === p.name).sort((a, b) => (a.targetStart < b.targetStart ? -1 : a.targetStart > b.targetStart ? 1 : 0));
      const cmp = new StreamComparer(p.name, target, mine, (r, side) => readBack.checked(r, side, stream.address), expectedRecords(o, p));
      await source.read([request(stream, runs === null ? null : mine, cmp)], { signal: o.signal });
      const s = await cmp.finish();
      result.streams.push(s);
      result.records += cmp.equal;
      result.warnings.push(...cmp.warnings);
      if (s.difference && !result.difference) result.difference = s.difference;
    }
  } finally {
    await source.close();
  }
  result.ok = result.difference === null;
  return result;
}

/** A log target is read over its mapped target positions (runs null: whole); a snapshot whole. */
function request(stream: SourceStream, runs: readonly OffsetRun[] | null, out: RecordSink) {
  if (stream.mode === 'drain') throw new MqbakError('internal', `restore check: ${stream.name} would be read destructively`);
  if (stream.mode === 'snapshot') return { stream, from: 0n, out };
  if (runs === null) return { stream, from: stream.start ?? 0n, out };
  const end = stream.end ?? 0n;
  if (runs.length === 0) return { stream, from: end, out };
  const last = runs.reduce((m, r) => (r.targetStart + (r.sourceEnd - r.sourceStart) > m ? r.targetStart + (r.sourceEnd - r.sourceStart) : m), 0n) + 1n;
  return { stream: { ...stream, end: last < end ? last : end }, from: runs[0]!.targetStart, out };
}

/** The archived records the restore wrote, in order: the plan's parts, without those after --until. */
async function* expectedRecords(o: CheckOptions, p: PlannedStream): AsyncGenerator<ArchiveRecord> {
  for (const part of p.parts) {
    for await (const batch of readStreamBatches(o.store, part.stream, { signal: o.signal })) {
      for (const r of batch) if (o.until === null || r.timestamp === null || r.timestamp <= o.until) yield r;
    }
  }
}

/** One target stream: target records come in through the RecordSink side, archived ones are pulled. */
class StreamComparer implements RecordSink {
  readonly warnings: string[] = [];
  equal = 0;
  private found = 0;
  private expected = 0;
  private pending: ArchiveRecord | null = null;
  private done = false;
  private readonly hash: Hash = createHash('sha256');
  private difference: CheckDifference | null = null;

  constructor(
    private readonly name: string,
    private readonly target: string,
    /** Sorted by target position; none: matched in order. */
    private readonly runs: readonly OffsetRun[],
    private readonly checked: (record: ArchiveRecord, side: 'archive' | 'target') => CheckedRecord,
    private readonly archive: AsyncIterator<ArchiveRecord>,
  ) {}

  async append(record: ArchiveRecord): Promise<void> {
    await this.onTarget(record);
  }

  async appendMany(records: readonly ArchiveRecord[]): Promise<void> {
    for (const r of records) await this.onTarget(r);
  }

  async appendColumns(columns: RecordColumns): Promise<void> {
    for (let i = 0; i < columns.count; i++) await this.onTarget(columnRecord(columns, i));
  }

  /** A hole in the target shows as the archived records it should have held. */
  addGap(): void {}

  setExtra(): void {}

  warn(message: string): void {
    this.warnings.push(message);
  }

  async finish(): Promise<StreamCheck> {
    for (let e = await this.peek(); e !== null; e = await this.peek()) {
      this.take();
      this.differ('missing', e.position, null, `record at source position ${e.position} is not on the target`);
    }
    if (this.difference?.kind === 'missing') this.difference.message += ` (${this.found} of ${this.expected} records found)`;
    return { name: this.name, target: this.target, expected: this.expected, found: this.found, digest: this.hash.digest('hex'), difference: this.difference };
  }

  private async onTarget(t: ArchiveRecord): Promise<void> {
    let source: bigint | null = null;
    if (this.runs.length > 0) {
      source = this.sourceOf(t.position);
      // not written by this restore (what the target held before, another publisher's)
      if (source === null) return;
    }
    this.found++;
    for (;;) {
      const e = await this.peek();
      if (e === null || (source !== null && e.position > source)) {
        const at = source === null ? '' : ` (mapped from source position ${source})`;
        this.differ('extra', source, t.position, `the target holds a record at position ${t.position}${at} that the archive does not`);
        return;
      }
      this.take();
      if (source === null || e.position === source) {
        this.compare(e, t);
        return;
      }
      this.differ('missing', e.position, null, `record at source position ${e.position} is not on the target`);
    }
  }

  private compare(e: ArchiveRecord, t: ArchiveRecord): void {
    const a = this.checked(e, 'archive');
    const b = this.checked(t, 'target');
    let same = true;
    for (const f of FIELDS) {
      if (a[f] === undefined || b[f] === undefined) continue;
      const x = fieldBytes(f, a);
      if (same && !x.equals(fieldBytes(f, b))) {
        same = false;
        this.differ(f, e.position, t.position, `record at source position ${e.position} (target position ${t.position}): ${f} differs`);
      }
      this.hash.update(x);
    }
    if (same) this.equal++;
  }

  private differ(kind: CheckDifference['kind'], source: bigint | null, target: bigint | null, message: string): void {
    this.difference ??= {
      stream: this.name,
      target: this.target,
      sourcePosition: source === null ? null : source.toString(),
      targetPosition: target === null ? null : target.toString(),
      kind,
      message: `${this.name} -> ${this.target}: ${message}`,
    };
  }

  /** The source position a target position was restored from, by the offset runs; null: none. */
  private sourceOf(position: bigint): bigint | null {
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = this.runs[mid]!;
      if (position < r.targetStart) hi = mid - 1;
      else if (position > r.targetStart + (r.sourceEnd - r.sourceStart)) lo = mid + 1;
      else return r.sourceStart + (position - r.targetStart);
    }
    return null;
  }

  private async peek(): Promise<ArchiveRecord | null> {
    if (this.pending === null && !this.done) {
      const n = await this.archive.next();
      if (n.done) this.done = true;
      else this.pending = n.value;
    }
    return this.pending;
  }

  private take(): void {
    this.pending = null;
    this.expected++;
  }
}

/** A field as bytes, framed so that different values never give the same bytes: what is compared and digested. */
function fieldBytes(f: CheckedField, r: CheckedRecord): Buffer {
  const parts: Buffer[] = [Buffer.from(`${f}:`)];
  const span = (b: Uint8Array | null | undefined) => {
    const len = Buffer.alloc(4);
    len.writeInt32BE(b === null || b === undefined ? -1 : b.length);
    parts.push(len);
    if (b) parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  };
  if (f === 'key' || f === 'value') span(r[f]);
  else if (f === 'headers') {
    parts.push(Buffer.from(`${r.headers?.length ?? 0}:`));
    for (const h of r.headers ?? []) {
      span(Buffer.from(h.name));
      span(h.value);
    }
  } else if (f === 'timestamp') parts.push(Buffer.from(r.timestamp === null ? 'none' : String(r.timestamp)));
  else parts.push(Buffer.from(r.attributes === null ? 'null' : canonicalJson(r.attributes!)));
  return Buffer.concat(parts);
}
