/**
 * core's restore pipeline (src/core/restore.ts) on its own: a scripted sink that stands for an
 * adapter (no broker: what is tested is what the core hands it, the journal and the resume), a
 * backup written by the backup writer into a local store in a temporary folder.
 */
import { mkdtemp, readdir, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdapterContext, BrokerAdapter, BrokerSink, JournalEntry, PlannedTarget, StreamWriter, WriteAck } from '../../../src/brokers/adapter.js';
import { MqbakError } from '../../../src/common/errors.js';
import { silentProgress } from '../../../src/common/progress.js';
import type { RecordSlice } from '../../../src/common/record.js';
import { zstdImplementation } from '../../../src/archive/codec.js';
import { openBackupWriter } from '../../../src/core/backup-writer.js';
import { restore, type RestoreOptions } from '../../../src/core/restore.js';
import { readJournal } from '../../../src/core/restore-journal.js';
import { LocalStore } from '../../../src/stores/local.js';
import { testAdapter } from '../../helpers/test-adapter.js';

interface Target {
  /** Positions written, in order, per target stream name (the selector). */
  written: Map<string, bigint[]>;
  /** Positions the "broker" refuses. */
  refuse: Set<bigint>;
  /** What the writer saw when it was opened: the journal file's entry for it. */
  journalAtOpen: Array<JournalEntry | undefined>;
}

function scriptedAdapter(t: Target, journalPath: string, resume: 'through' | 'records'): BrokerAdapter {
  const sink: BrokerSink = {
    async prepare() {},
    parallelism: 2,
    async openStream(target: PlannedTarget, saved: JournalEntry | null): Promise<StreamWriter> {
      const key = String(target.target.stream);
      const list = t.written.get(key) ?? [];
      t.written.set(key, list);
      const done = (saved?.done as string[] | undefined)?.map(BigInt) ?? [];
      const failed: bigint[] = [];
      let skip = resume === 'records' ? done.length : 0;
      let first = true;
      return {
        resume: saved === null ? null : resume === 'records' ? { records: done.length } : { through: done.length ? done[done.length - 1]! : -1n, retry: new Set((saved.failed as string[]).map(BigInt)) },
        async write(batch: readonly RecordSlice[]): Promise<WriteAck> {
          if (first) {
            first = false;
            // the core saved this stream's entry before its first write
            t.journalAtOpen.push((await readJournal(journalPath))?.streams[target.name]);
          }
          const ack: WriteAck = { written: 0, failed: [] };
          for (const s of batch) {
            for (let i = s.from; i < s.to; i++) {
              const p = BigInt(s.cols.position[i]!);
              if (skip > 0) {
                skip--;
                continue;
              }
              if (t.refuse.has(p)) {
                failed.push(p);
                ack.failed.push({ position: p, reason: `refused ${p}` });
                continue;
              }
              list.push(p);
              done.push(p);
              ack.written++;
            }
          }
          return ack;
        },
        journal: () => ({ done: done.map(String), failed: failed.map(String) }),
        async close() {
          return list.length === 0 ? [] : [{ stream: target.name, source: target.source, target: target.target, sourceStart: list[0]!, sourceEnd: list[list.length - 1]!, targetStart: 0n }];
        },
      };
    },
    async finish(runs) {
      return { lines: [`finished with ${runs.length} run(s)`], json: { finished: runs.length } };
    },
    warnings: () => [],
    async close() {},
  };
  return testAdapter({
    openSink: async () => sink,
    restorePlanNotes: (plan) => ({ lines: [`${plan.targets.length} target(s)`], json: { planned: plan.targets.length } }),
  });
}

describe('restore pipeline', () => {
  let dir: string;
  let store: LocalStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-restore-'));
    store = new LocalStore(dir);
    // two streams of 10 records, timestamps 1000 * position
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: { broker: 'test', url: 'test://src', chainKey: 'k', options: {} }, toolVersion: 'test' });
    for (const name of ['a', 'b']) {
      const s = w.openStream({ name, address: { stream: name }, from: 0n });
      for (let p = 0n; p < 10n; p++) await s.append({ position: p, timestamp: Number(p) * 1000, timestampType: null, key: null, value: new Uint8Array([Number(p)]), headers: [], attributes: null });
      await s.close(10n);
    }
    await w.commit();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const options = (adapter: BrokerAdapter, journal: string, more: Partial<RestoreOptions> = {}): RestoreOptions => ({
    adapter,
    store,
    url: 'test://target',
    adapterOptions: {},
    backupId: 'latest',
    streams: [],
    renames: {},
    until: null,
    dryRun: false,
    journalPath: () => journal,
    signal: new AbortController().signal,
    progress: silentProgress,
    debug: false,
    env: {},
    ...more,
  });
  const all = Array.from({ length: 10 }, (_, i) => BigInt(i));

  it('writes every stream in order under --map and --until; journal saved before the first write, completed at the end', async () => {
    const t: Target = { written: new Map(), refuse: new Set(), journalAtOpen: [] };
    const journal = join(dir, 'j.json');
    const r = await restore(options(scriptedAdapter(t, journal, 'through'), journal, { renames: { a: 'a2' }, until: 6000 }));
    expect([...t.written]).toEqual([
      ['a2', all.slice(0, 7)],
      ['b', all.slice(0, 7)],
    ]);
    expect(r).toMatchObject({ restored: 14, failed: 0, skipped: 6, alreadyRestored: 0, resumed: false });
    expect(t.journalAtOpen).toEqual([{ done: [], failed: [] }, { done: [], failed: [] }]);
    expect((await readJournal(journal))!.completed).toBe(true);
    expect(r.notes).toEqual({ lines: ['finished with 2 run(s)'], json: { planned: 2, finished: 2 } });
    // --dry-run: the plan and the adapter's notes, nothing written
    const dry = await restore(options(scriptedAdapter(t, journal, 'through'), join(dir, 'dry.json'), { dryRun: true, streams: ['b'] }));
    expect(dry.streams.map((s) => s.name)).toEqual(['b']);
    expect(dry.notes.json).toEqual({ planned: 1 });
    expect(await readJournal(join(dir, 'dry.json'))).toBeNull();
  });

  it('a failed record keeps the journal open; the rerun resumes through the settled prefix and retries exactly the failure', async () => {
    const t: Target = { written: new Map(), refuse: new Set([3n]), journalAtOpen: [] };
    const journal = join(dir, 'j.json');
    const first = await restore(options(scriptedAdapter(t, journal, 'through'), journal, { streams: ['a'] }));
    expect(first).toMatchObject({ restored: 9, failed: 1 });
    expect(first.streams[0]!.failures).toEqual(['refused 3']);
    expect((await readJournal(journal))!.completed).toBe(false);
    t.refuse.clear();
    const again = await restore(options(scriptedAdapter(t, journal, 'through'), journal, { streams: ['a'] }));
    expect(again).toMatchObject({ resumed: true, restored: 1, failed: 0, alreadyRestored: 9 });
    expect(t.written.get('a')).toEqual([...all.filter((p) => p !== 3n), 3n]);
    expect((await readJournal(journal))!.completed).toBe(true);
    // a completed restore run again is a new restore
    expect((await restore(options(scriptedAdapter(t, journal, 'through'), journal, { streams: ['a'] }))).resumed).toBe(false);
  });

  it('resume by count: the writer is given every record and leaves the first ones out itself', async () => {
    const t: Target = { written: new Map(), refuse: new Set([5n]), journalAtOpen: [] };
    const journal = join(dir, 'j.json');
    await restore(options(scriptedAdapter(t, journal, 'records'), journal, { streams: ['b'] }));
    t.refuse.clear();
    t.written.clear();
    const again = await restore(options(scriptedAdapter(t, journal, 'records'), journal, { streams: ['b'] }));
    // 9 were done (0..4, 6..9 counted as "done"): the writer skipped 9 records by count
    expect(again).toMatchObject({ resumed: true, alreadyRestored: 9, restored: 1 });
    expect(t.written.get('b')).toEqual([9n]);
  });

  it("to a writer that releases earlier writes' bytes, every block's bytes stay intact until the write after its own settled", async () => {
    // many small blocks of different bytes over several segments, so that blocks' memory goes round
    const many = new LocalStore(join(dir, 'many'));
    const w = await openBackupWriter({ store: many, kind: 'full', parent: null, source: { broker: 'test', url: 'test://src', chainKey: 'k', options: {} }, toolVersion: 'test', blockSize: 1024, segmentSize: 16 * 1024 });
    const value = (p: number) => Uint8Array.from({ length: 200 + (p % 150) }, (_, i) => (p * 31 + i * 7) & 0xff);
    const s = w.openStream({ name: 'c', address: { stream: 'c' }, from: 0n });
    for (let p = 0; p < 600; p++) await s.append({ position: BigInt(p), timestamp: p, timestampType: null, key: null, value: value(p), headers: [], attributes: null });
    await s.close(600n);
    await w.commit();
    const got: Uint8Array[] = [];
    const memory = new Set<ArrayBufferLike>();
    let writes = 0;
    /** The previous write's records with a copy of their bytes: the writer may read them until this write settles. */
    let previous: Array<{ view: Uint8Array; copy: Uint8Array }> = [];
    const writer: StreamWriter & { releasesEarlierWrites: true } = {
      releasesEarlierWrites: true,
      resume: null,
      async write(batch: readonly RecordSlice[]): Promise<WriteAck> {
        const mine = writes++;
        const current: typeof previous = [];
        for (const sl of batch) {
          memory.add(sl.cols.bytes.buffer);
          for (let i = sl.from; i < sl.to; i++) {
            const view = sl.cols.bytes.subarray(sl.cols.valueStart[i]!, sl.cols.valueStart[i]! + sl.cols.valueLength[i]!);
            current.push({ view, copy: Buffer.from(view) });
            got.push(Uint8Array.from(view));
          }
        }
        // settles later, as a broker's answer does: the core reads on meanwhile
        await new Promise((r) => setTimeout(r, 1));
        // as late as the promise allows: the write before's bytes, just before this write settles
        for (const h of previous) expect(Buffer.from(h.view).equals(h.copy), `a record of write ${mine - 1}, read at the end of write ${mine}`).toBe(true);
        previous = current;
        return { written: current.length, failed: [] };
      },
      journal: () => ({}),
      close: async () => [],
    };
    const adapter = testAdapter({
      openSink: async () => ({ async prepare() {}, parallelism: 1, openStream: async () => writer, finish: async () => ({ lines: [], json: {} }), warnings: () => [], async close() {} }),
      restorePlanNotes: () => ({ lines: [], json: {} }),
    });
    const r = await restore({ ...options(adapter, join(dir, 'j.json')), store: many });
    expect(r.restored).toBe(600);
    expect(got.map((v, p) => Buffer.from(v).equals(Buffer.from(value(p))))).toEqual(got.map(() => true));
    expect(got).toHaveLength(600);
    // with the native binding the blocks' memory went round: fewer buffers than writes
    if (zstdImplementation() === 'native') expect(memory.size).toBeLessThan(writes / 4);
  });

  it("a segment changed after --preflight full read it (other bytes, same size): the restore's own read refuses it before any of its records is written", async () => {
    // the second read of stream b's segment (the restore's, after the preflight's) gets other bytes
    const reads = new Map<string, number>();
    const changing = new (class extends LocalStore {
      override async get(key: string, o: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
        const bytes = await super.get(key, o);
        if (!key.startsWith('segments/')) return bytes;
        const n = (reads.get(key) ?? 0) + 1;
        reads.set(key, n);
        if (n < 2 || !key.includes('/0001/')) return bytes;
        const other = Uint8Array.from(bytes);
        other[other.length - 1] = other[other.length - 1]! ^ 0x01;
        return other;
      }
    })(dir);
    const t: Target = { written: new Map(), refuse: new Set(), journalAtOpen: [] };
    const journal = join(dir, 'j.json');
    const stopped = restore({ ...options(scriptedAdapter(t, journal, 'through'), journal), store: changing });
    await expect(stopped).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/SHA-256 .*, manifest says /) as unknown });
    // both segments were read twice: the preflight read them whole, then the restore
    expect([...reads.values()]).toEqual([2, 2]);
    expect(t.written.get('b') ?? []).toEqual([]);
  });

  describe('the sink opens while the preflight reads', () => {
    /** Deletes stream a's segment (the backup's first stream): the preflight finds it missing. */
    const damage = async () => {
      const files = (await readdir(join(dir, 'segments'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile() && e.parentPath.endsWith('0000'));
      expect(files).toHaveLength(1);
      await unlink(join(files[0]!.parentPath, files[0]!.name));
    };
    /** A sink that records what the core asked of it. */
    const recording = (events: string[]): BrokerSink => ({
      async prepare() {
        events.push('prepare');
      },
      parallelism: 1,
      openStream: async () => {
        throw new Error('not in this test');
      },
      finish: async () => ({ lines: [], json: {} }),
      warnings: () => [],
      async close() {
        events.push('close');
      },
    });
    const logged = (events: string[]) =>
      new (class extends LocalStore {
        override async get(key: string, o: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
          if (key.startsWith('segments/')) events.push('segment read');
          return super.get(key, o);
        }
      })(dir);
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    beforeEach(() => {
      unhandled.length = 0;
      process.on('unhandledRejection', onUnhandled);
    });
    afterEach(async () => {
      // a rejection nobody handled is reported on a later turn
      await new Promise((r) => setTimeout(r, 20));
      process.off('unhandledRejection', onUnhandled);
      expect(unhandled).toEqual([]);
    });

    it('before the preflight read the archive; a damaged archive: the preflight error, the sink closed unprepared', async () => {
      const events: string[] = [];
      await damage();
      const adapter = testAdapter({
        openSink: async () => {
          events.push('open');
          return recording(events);
        },
      });
      await expect(restore({ ...options(adapter, join(dir, 'j.json')), store: logged(events) })).rejects.toMatchObject({ code: 'integrity', message: expect.stringMatching(/nothing was restored/) as unknown });
      expect(events[0]).toBe('open');
      expect(events.slice(1)).toEqual([...events.slice(1, -1).map(() => 'segment read'), 'close']);
      expect(events).toContain('segment read');
      // an intact archive: prepared only after the preflight read everything
      events.length = 0;
      await expect(restore({ ...options(adapter, join(dir, 'j2.json')), store: logged(events), streams: ['b'] })).rejects.toThrow('not in this test');
      expect(events.slice(events.indexOf('prepare'))).toEqual(['prepare', 'close']);
      expect(events.filter((e) => e === 'segment read')).toHaveLength(1);
    });

    it('an opening that fails: its error, after a passing preflight or in place of one it stopped; never unhandled', async () => {
      const adapter = testAdapter({
        openSink: async () => {
          throw new MqbakError('unreachable', 'the target does not answer');
        },
      });
      await expect(restore(options(adapter, join(dir, 'j.json')))).rejects.toMatchObject({ code: 'unreachable' });
      // the target's error, not the check's: a wrong address is reported without a long preflight
      await damage();
      await expect(restore(options(adapter, join(dir, 'j.json')))).rejects.toMatchObject({ code: 'unreachable' });
    });

    it('a failed opening stops the preflight: its reads are aborted, the target\'s error reported', async () => {
      const signals: AbortSignal[] = [];
      let fail!: () => void;
      const failed = new Promise<void>((r) => (fail = r));
      const adapter = testAdapter({
        openSink: async () => {
          await failed;
          throw new MqbakError('unreachable', 'the target does not answer');
        },
      });
      const store = new (class extends LocalStore {
        override async get(key: string, o: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
          if (key.startsWith('segments/')) {
            signals.push(o.signal!);
            // the target fails while the segments are read
            fail();
            await new Promise((r) => setTimeout(r, 50));
          }
          return super.get(key, o);
        }
      })(dir);
      await expect(restore({ ...options(adapter, join(dir, 'j.json')), store })).rejects.toMatchObject({ code: 'unreachable' });
      expect(signals.length).toBeGreaterThan(0);
      expect(signals.every((s) => s.aborted)).toBe(true);
    });

    it('a failed preflight stops an opening still waiting for the target', async () => {
      await damage();
      let signal: AbortSignal | null = null;
      const adapter = testAdapter({
        // a target that never answers: only the signal ends the opening
        openSink: (_url, _options, ctx: AdapterContext) =>
          new Promise<BrokerSink>((_resolve, reject) => {
            signal = ctx.signal;
            ctx.signal.addEventListener('abort', () => reject(new MqbakError('interrupted', 'stopped')), { once: true });
          }),
      });
      await expect(restore(options(adapter, join(dir, 'j.json')))).rejects.toMatchObject({ code: 'integrity' });
      expect(signal!.aborted).toBe(true);
    });
  });
});
