/**
 * The suites every broker adapter must pass against its real broker (as test/contract/
 * store-contract.ts is for stores). They drive the adapter's BrokerSource and BrokerSink directly,
 * the way src/core's pipelines do, with an in-memory RecordSink instead of the backup writer.
 *
 * Usage from a test file (test/integration/<broker>-adapter.contract.test.ts):
 *   brokerContract('kafka', async () => ({ adapter, modes: ['log'], source: ..., sink: ..., cleanup }));
 *
 * Records are told apart by their values: a fixture publishes the UTF-8 text of 0, 1, 2, ... in
 * publish order, so the suites can check order within a stream and completeness over streams.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  AdapterContext,
  AdapterOptionValues,
  BrokerAdapter,
  BrokerSink,
  BrokerSource,
  JournalEntry,
  OffsetRun,
  PlannedTarget,
  ReadMode,
  RecordSink,
  SinkPlan,
  SourceSelection,
  SourceStream,
  StreamAddress,
} from '../../src/brokers/adapter.js';
import { loadZstdDecompressor } from '../../src/archive/codec.js';
import { silentProgress } from '../../src/common/progress.js';
import { columnRecord, columnsOf, type ArchiveRecord, type RecordColumns, type RecordSlice } from '../../src/common/record.js';

export interface SourceFixture {
  url: string;
  /** Backup option values (commander camel-case names) that select exactly the new streams. */
  options: AdapterOptionValues;
  /** Streams the selection must hold (Kafka: partitions of the new topic; RabbitMQ: 1 queue). */
  streams: number;
  /** Publishes `records` more records, values continuing the numbering: written after any cut taken so far. */
  append(records: number): Promise<void>;
}

export interface SinkFixture {
  url: string;
  options: AdapterOptionValues;
  /** A selector name nothing on the broker has yet: the records are restored under it. */
  name: string;
  /** Everything the target stream at `address` holds, in order (may consume it: the test is over). */
  readBack(address: StreamAddress): Promise<Array<{ key: Uint8Array | null; value: Uint8Array | null }>>;
}

export interface BrokerFixture {
  adapter: BrokerAdapter;
  /** The read modes this adapter's source offers; each is tested. */
  modes: readonly ReadMode[];
  /**
   * New streams (fresh names) holding `records` records read as `mode`, valued 0..records-1 as
   * UTF-8 text in publish order.
   */
  source(mode: ReadMode, records: number): Promise<SourceFixture>;
  /** A target on the same broker: the sink suites restore into it what a 'log' (or first mode) source read. */
  sink(): Promise<SinkFixture>;
  /**
   * Whether a restored stream gets positions the sink reports as offset runs. False for targets
   * without positions (a RabbitMQ classic queue): then close() returns no runs.
   */
  sinkHasPositions: boolean;
  cleanup(): Promise<void>;
}

const text = new TextDecoder();
const enc = new TextEncoder();

/** What the backup writer stands for in these suites: everything appended, in order. */
export class MemoryRecordSink implements RecordSink {
  readonly records: ArchiveRecord[] = [];
  readonly gaps: Array<{ from: bigint; to: bigint; reason: string }> = [];
  readonly extra: Record<string, unknown> = {};
  readonly warnings: string[] = [];

  async append(record: ArchiveRecord): Promise<void> {
    this.push(record);
  }
  async appendMany(records: readonly ArchiveRecord[]): Promise<void> {
    for (const r of records) this.push(r);
  }
  async appendColumns(columns: RecordColumns): Promise<void> {
    // columnRecord's views share the block's bytes, which a reader may reuse: copy them
    for (let i = 0; i < columns.count; i++) this.push(copy(columnRecord(columns, i)));
  }
  addGap(from: bigint, to: bigint, reason: string): void {
    this.gaps.push({ from, to, reason });
  }
  setExtra(key: string, value: unknown): void {
    this.extra[key] = value;
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
  private push(r: ArchiveRecord): void {
    const last = this.records[this.records.length - 1];
    if (last !== undefined && r.position <= last.position) throw new Error(`position ${r.position} appended after ${last.position}`);
    this.records.push(r);
  }
}

/** A real copy whatever the class (Buffer#slice is a view; Uint8Array#slice copies, keeping the class). */
const own = (b: Uint8Array | null): Uint8Array | null => (b === null ? null : Uint8Array.prototype.slice.call(b));

function copy(r: ArchiveRecord): ArchiveRecord {
  return { ...r, key: own(r.key), value: own(r.value), headers: r.headers.map((h) => ({ name: h.name, value: own(h.value) })) };
}

/** Bytes compared by content, whether a Buffer or a Uint8Array. */
const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));

/** The numbers the fixture wrote into the values, in the order they came. */
function numbers(records: readonly { value: Uint8Array | null }[]): number[] {
  return records.map((r) => Number(text.decode(r.value ?? new Uint8Array())));
}

function context(): AdapterContext {
  return { signal: new AbortController().signal, progress: silentProgress, debug: false, env: {}, zstd: () => loadZstdDecompressor() };
}

interface Read {
  selection: SourceSelection;
  sinks: Map<string, MemoryRecordSink>;
  to: Map<string, bigint>;
  settle?: () => Promise<void>;
  more?: boolean;
}

/** A full read of every selected stream from its start (or from `from`), the way core's backup does it. */
async function readAll(source: BrokerSource, options: { limit?: number; from?: Map<string, bigint> } = {}): Promise<Read> {
  const selection = await source.select();
  const sinks = new Map<string, MemoryRecordSink>();
  const requests = selection.streams.map((stream) => {
    const out = new MemoryRecordSink();
    sinks.set(stream.name, out);
    return { stream, from: options.from?.get(stream.name) ?? stream.start ?? 0n, out };
  });
  const signal = new AbortController().signal;
  const drains = requests.filter((r) => r.stream.mode === 'drain');
  const to = new Map<string, bigint>();
  let settle: (() => Promise<void>) | undefined;
  let more: boolean | undefined;
  const others = requests.filter((r) => r.stream.mode !== 'drain');
  if (others.length > 0) for (const [k, v] of (await source.read(others, { signal })).to) to.set(k, v);
  // a drain request is always alone
  for (const d of drains) {
    const outcome = await source.read([d], { signal, limit: options.limit });
    for (const [k, v] of outcome.to) to.set(k, v);
    settle = outcome.settle;
    more = outcome.more;
  }
  return { selection, sinks, to, settle, more };
}

function allRecords(read: Read): ArchiveRecord[] {
  return [...read.sinks.values()].flatMap((s) => s.records);
}

async function withSource<T>(f: BrokerFixture, s: SourceFixture, use: (source: BrokerSource) => Promise<T>): Promise<T> {
  f.adapter.checkBackup(s.url, s.options, {});
  const source = await f.adapter.openSource(s.url, s.options, context());
  try {
    return await use(source);
  } finally {
    await source.close();
  }
}

export function brokerContract(name: string, make: () => Promise<BrokerFixture>): void {
  describe(`BrokerSource contract: ${name}`, () => {
    let f: BrokerFixture;
    beforeAll(async () => {
      f = await make();
    });
    afterAll(async () => {
      await f?.cleanup();
    });

    it('describes itself consistently', () => {
      const a = f.adapter;
      expect(a.name).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(a.schemes.length).toBeGreaterThan(0);
      for (const s of a.schemes) expect(s).toMatch(/^[a-z][a-z0-9+.-]*$/);
      expect(a.schemes.some((s) => a.urlExample.startsWith(`${s}://`))).toBe(true);
      expect(a.redactUrl(`${a.schemes[0]}://user:secret-pw@host:1234/x`)).not.toContain('secret-pw');
    });

    it('select finds the streams with their cut, and changes nothing', async () => {
      for (const mode of f.modes) {
        const s = await f.source(mode, 5);
        await withSource(f, s, async (source) => {
          const sel = await source.select();
          expect(sel.chainKey).not.toBe('');
          expect(sel.streams).toHaveLength(s.streams);
          expect(new Set(sel.streams.map((x) => x.name)).size).toBe(s.streams);
          for (const st of sel.streams) {
            expect(st.mode).toBe(mode);
            if (mode === 'log') {
              expect(st.start).not.toBeNull();
              expect(st.end).not.toBeNull();
              expect(st.end! >= st.start!).toBe(true);
            }
          }
          if (mode === 'log') expect(sel.streams.reduce((n, st) => n + Number(st.end! - st.start!), 0)).toBe(5);
          // selecting twice gives the same streams and chain key: select reads nothing
          const again = await source.select();
          expect(again.chainKey).toBe(sel.chainKey);
          expect(again.streams.map((x) => x.name)).toEqual(sel.streams.map((x) => x.name));
          const meta = await source.metadata(sel);
          expect(typeof meta.metadata).toBe('object');
          expect(Array.isArray(meta.warnings)).toBe(true);
        });
      }
    });

    it('read delivers every record in order, positions in [from, end)', async () => {
      for (const mode of f.modes) {
        const s = await f.source(mode, 30);
        await withSource(f, s, async (source) => {
          const r = await readAll(source);
          for (const st of r.selection.streams) {
            const got = r.sinks.get(st.name)!.records;
            const ns = numbers(got);
            expect(ns, `${mode} ${st.name}: values in publish order`).toEqual([...ns].sort((a, b) => a - b));
            const from = st.start ?? 0n;
            for (const rec of got) {
              expect(rec.position >= from).toBe(true);
              if (st.end !== null) expect(rec.position < st.end).toBe(true);
            }
            const to = r.to.get(st.name);
            expect(to, `${st.name}: read returns its to`).toBeDefined();
            if (got.length > 0) expect(to! > got[got.length - 1]!.position).toBe(true);
          }
          expect(numbers(allRecords(r)).sort((a, b) => a - b), mode).toEqual(Array.from({ length: 30 }, (_, i) => i));
          if (r.settle) await r.settle();
        });
      }
    });

    it('records written after the cut are not read', async () => {
      for (const mode of f.modes.filter((m) => m !== 'drain')) {
        const s = await f.source(mode, 10);
        await withSource(f, s, async (source) => {
          const sel = await source.select();
          await s.append(7);
          const requests = sel.streams.map((stream) => ({ stream, from: stream.start ?? 0n, out: new MemoryRecordSink() }));
          await source.read(requests, { signal: new AbortController().signal });
          const got = requests.flatMap((q) => q.out.records);
          expect(numbers(got).sort((a, b) => a - b), mode).toEqual(Array.from({ length: 10 }, (_, i) => i));
        });
      }
    });

    it('an incremental read from a position continues exactly there', async () => {
      if (!f.modes.includes('log')) return;
      const s = await f.source('log', 20);
      await withSource(f, s, async (source) => {
        const first = await readAll(source);
        // start each stream after its first third
        const from = new Map<string, bigint>();
        const expected = new Map<string, ArchiveRecord[]>();
        for (const st of first.selection.streams) {
          const recs = first.sinks.get(st.name)!.records;
          const cut = Math.floor(recs.length / 3);
          from.set(st.name, recs[cut]?.position ?? first.to.get(st.name)!);
          expected.set(st.name, recs.slice(cut));
        }
        const second = await readAll(source, { from });
        for (const st of second.selection.streams) {
          const got = second.sinks.get(st.name)!.records;
          expect(got.map((r) => r.position), st.name).toEqual(expected.get(st.name)!.map((r) => r.position));
          expect(numbers(got), st.name).toEqual(numbers(expected.get(st.name)!));
        }
      });
    });

    it('drain: nothing is removed before settle, settle removes what was read', async () => {
      if (!f.modes.includes('drain')) return;
      const s = await f.source('drain', 12);
      // read 8 and close without settling: all 12 are still there
      await withSource(f, s, async (source) => {
        const r = await readAll(source, { limit: 8 });
        expect(allRecords(r)).toHaveLength(8);
        expect(r.more).toBe(true);
        expect(r.settle).toBeTypeOf('function');
      });
      // read 8 again (the same ones), settle them
      await withSource(f, s, async (source) => {
        const r = await readAll(source, { limit: 8 });
        expect(numbers(allRecords(r))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
        await r.settle!();
      });
      // what is left: the 4 unread ones, then nothing more
      await withSource(f, s, async (source) => {
        const r = await readAll(source, { limit: 100 });
        expect(numbers(allRecords(r))).toEqual([8, 9, 10, 11]);
        expect(r.more ?? false).toBe(false);
        await r.settle!();
      });
      await withSource(f, s, async (source) => {
        const r = await readAll(source, { limit: 100 });
        expect(allRecords(r)).toHaveLength(0);
        if (r.settle) await r.settle();
      });
    });
  });

  describe(`BrokerSink contract: ${name}`, () => {
    let f: BrokerFixture;
    /** What a source read: the records the sink suites restore, per stream. */
    let read: Read;
    let metadata: Record<string, unknown>;
    const N = 40;
    beforeAll(async () => {
      f = await make();
      const mode = f.modes.includes('log') ? 'log' : f.modes[0]!;
      const s = await f.source(mode, N);
      await withSource(f, s, async (source) => {
        read = await readAll(source);
        metadata = (await source.metadata(read.selection)).metadata;
        if (read.settle) await read.settle();
      });
    });
    afterAll(async () => {
      await f?.cleanup();
    });

    function plan(target: SinkFixture): SinkPlan {
      const targets: PlannedTarget[] = read.selection.streams.map((st: SourceStream) => {
        const recs = read.sinks.get(st.name)!.records;
        return {
          name: st.name,
          source: st.address,
          target: f.adapter.renamed(st.address, target.name),
          records: recs.length,
          from: st.start ?? 0n,
          to: read.to.get(st.name)!,
        };
      });
      const selectors = [...new Set(read.selection.streams.map((st) => f.adapter.selectorOf(st.address)))];
      return { backupId: 'contract', metadata, renames: Object.fromEntries(selectors.map((x) => [x, target.name])), targets };
    }

    async function withSink<T>(t: SinkFixture, p: SinkPlan, journal: ReadonlyMap<string, JournalEntry> | null, use: (sink: BrokerSink) => Promise<T>): Promise<T> {
      f.adapter.checkRestore(t.url, t.options, {});
      const sink = await f.adapter.openSink(t.url, t.options, context());
      try {
        await sink.prepare(p, journal, new AbortController().signal);
        return await use(sink);
      } finally {
        await sink.close();
      }
    }

    const slicesOf = (recs: readonly ArchiveRecord[]): RecordSlice[] => (recs.length === 0 ? [] : [{ cols: columnsOf(recs), from: 0, to: recs.length }]);

    it('prepare then write delivers the records byte-identical, in order; close returns runs covering them', async () => {
      const t = await f.sink();
      const p = plan(t);
      const runs: OffsetRun[] = [];
      await withSink(t, p, null, async (sink) => {
        expect(sink.parallelism).toBeGreaterThanOrEqual(1);
        for (const target of p.targets) {
          const w = await sink.openStream(target, null, new AbortController().signal);
          expect(w.resume).toBeNull();
          const recs = read.sinks.get(target.name)!.records;
          // two writes: the second may be called before the first settled
          const half = Math.floor(recs.length / 2);
          const a = w.write(slicesOf(recs.slice(0, half)), new AbortController().signal);
          const b = w.write(slicesOf(recs.slice(half)), new AbortController().signal);
          const acks = await Promise.all([a, b]);
          // the end of the stream: whatever the writer held back goes out
          acks.push(await w.write([], new AbortController().signal));
          expect(acks.reduce((n, x) => n + x.written, 0)).toBe(recs.length);
          expect(acks.flatMap((x) => x.failed)).toEqual([]);
          runs.push(...(await w.close()));
        }
        const done = await sink.finish(runs, new AbortController().signal);
        expect(Array.isArray(done.lines)).toBe(true);
      });
      for (const target of p.targets) {
        const recs = read.sinks.get(target.name)!.records;
        const back = await t.readBack(target.target);
        expect(back.map((r) => hex(r.value)), target.name).toEqual(recs.map((r) => hex(r.value)));
        expect(back.map((r) => hex(r.key)), target.name).toEqual(recs.map((r) => hex(r.key)));
        const mine = runs.filter((r) => r.stream === target.name);
        if (!f.sinkHasPositions) {
          expect(mine).toEqual([]);
          continue;
        }
        // the runs cover every source position once, in order, onto consecutive target positions
        const covered: bigint[] = [];
        for (const r of mine) {
          expect(r.sourceEnd >= r.sourceStart).toBe(true);
          expect(r.source).toEqual(target.source);
          expect(r.target).toEqual(target.target);
          for (let x = r.sourceStart; x <= r.sourceEnd; x++) covered.push(x);
        }
        expect(covered).toEqual(recs.map((r) => r.position));
      }
    });

    it('resume after a partial write skips exactly what is there', async () => {
      const t = await f.sink();
      const p = plan(t);
      const saved = new Map<string, JournalEntry>();
      const K = 13;
      // run 1: the first K records of each stream, then it "stops"
      await withSink(t, p, null, async (sink) => {
        for (const target of p.targets) {
          const w = await sink.openStream(target, null, new AbortController().signal);
          const recs = read.sinks.get(target.name)!.records;
          await w.write(slicesOf(recs.slice(0, Math.min(K, recs.length))), new AbortController().signal);
          await w.write([], new AbortController().signal);
          saved.set(target.name, w.journal());
          await w.close();
        }
      });
      // the journal is JSON: it survives a trip through a file
      const journal = new Map([...saved].map(([k, v]) => [k, JSON.parse(JSON.stringify(v)) as JournalEntry]));
      // run 2: the same restore again, with run 1's journal
      await withSink(t, p, journal, async (sink) => {
        for (const target of p.targets) {
          const w = await sink.openStream(target, journal.get(target.name)!, new AbortController().signal);
          const recs = read.sinks.get(target.name)!.records;
          const done = Math.min(K, recs.length);
          expect(w.resume, target.name).not.toBeNull();
          const res = w.resume!;
          // resume.records: the writer is given everything and leaves the first ones out itself;
          // resume.through: the core leaves out what was settled
          const given = res.records !== undefined ? recs : recs.filter((r) => res.through === undefined || r.position > res.through || (res.retry?.has(r.position) ?? false));
          if (res.records !== undefined) expect(res.records, target.name).toBe(done);
          else expect(given, `${target.name}: left to write after the resume`).toHaveLength(recs.length - done);
          const first = given.length > 0 ? await w.write(slicesOf(given), new AbortController().signal) : { written: 0, failed: [] };
          const last = await w.write([], new AbortController().signal);
          expect(first.written + last.written, `${target.name}: written by the second run`).toBe(recs.length - done);
          await w.close();
        }
      });
      for (const target of p.targets) {
        const recs = read.sinks.get(target.name)!.records;
        const back = await t.readBack(target.target);
        expect(numbers(back), `${target.name}: every record once, in order`).toEqual(numbers(recs));
      }
    });
  });
}

/** For fixtures: the value of record i. */
export function valueOf(i: number): Uint8Array {
  return enc.encode(String(i));
}
