/**
 * The BrokerSource contract (see broker-contract.ts): select, metadata, read, cut, incremental
 * reads and drain settling, driven as core's backup pipeline drives a source.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ArchiveRecord } from '../../src/common/record.js';
import { allRecords, MemoryRecordSink, numbers, readAll, withSource, type BrokerFixture } from './broker-fixture.js';

export function brokerSourceContract(name: string, make: () => Promise<BrokerFixture>): void {
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
}
