/**
 * The BrokerSink contract (see broker-contract.ts): prepare, ordered byte-identical writes, the
 * closing write([]), offset runs, and a resume from the journal entry an earlier run left,
 * driven as core's restore pipeline drives a sink.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrokerSink, JournalEntry, OffsetRun, PlannedTarget, SinkPlan, SourceStream } from '../../src/brokers/adapter.js';
import { columnsOf, type ArchiveRecord, type RecordSlice } from '../../src/common/record.js';
import { context, hex, numbers, readAll, withSource, type BrokerFixture, type Read, type SinkFixture } from './broker-fixture.js';

export function brokerSinkContract(name: string, make: () => Promise<BrokerFixture>): void {
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
