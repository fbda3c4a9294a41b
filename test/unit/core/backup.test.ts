/**
 * core's backup pipeline (src/core/backup.ts) on its own: a scripted source that stands for an
 * adapter (no broker: what is tested is the order of commits, settles and parents), a local
 * store in a temporary folder.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BrokerAdapter, BrokerSource, ReadMode, ReadRequest, SourceStream } from '../../../src/brokers/adapter.js';
import { silentProgress } from '../../../src/common/progress.js';
import { backup } from '../../../src/core/backup.js';
import { listBackups } from '../../../src/core/backup-reader.js';
import { LocalStore } from '../../../src/stores/local.js';
import type { Store } from '../../../src/stores/store.js';
import { testAdapter } from '../../helpers/test-adapter.js';

/** A stream the scripted source holds: its records' values, and for log streams their first position. */
interface Held {
  name: string;
  mode: ReadMode;
  values: string[];
  start?: bigint;
  /** Drain: positions step by this much (stream sequences with gaps); default 1. */
  step?: bigint;
  /** Which life of the stream this is (SourceStream.lineage). */
  lineage?: string;
}

/** Everything the pipeline asked of the source, in order. */
type Event = string;

function scriptedAdapter(held: Held[], events: Event[], store: () => Promise<string[]>, checkpoint = 3): BrokerAdapter {
  const source: BrokerSource = {
    async select() {
      const streams: SourceStream[] = held.map((h) => ({
        name: h.name,
        address: { stream: h.name },
        mode: h.mode,
        start: h.mode === 'log' ? (h.start ?? 0n) : null,
        end: h.mode === 'log' ? (h.start ?? 0n) + BigInt(h.values.length) : null,
        extra: {},
        ...(h.lineage === undefined ? {} : { lineage: h.lineage }),
      }));
      return { chainKey: `test:${held.map((h) => `${h.name}/${h.mode}`).join(',')}`, options: { mode: 'test' }, streams, warnings: [] };
    },
    async metadata() {
      return { metadata: { test: { streams: held.length } }, warnings: [] };
    },
    async read(requests: ReadRequest[], options) {
      const to = new Map<string, bigint>();
      for (const r of requests) {
        const h = held.find((x) => x.name === r.stream.name)!;
        if (r.stream.mode === 'log') {
          const start = h.start ?? 0n;
          for (let p = r.from; p < start + BigInt(h.values.length); p++) {
            await r.out.append({ position: p, timestamp: null, timestampType: null, key: null, value: new TextEncoder().encode(h.values[Number(p - start)]!), headers: [], attributes: null });
          }
          to.set(r.stream.name, start + BigInt(h.values.length));
        } else if (r.stream.mode === 'snapshot') {
          for (let i = 0; i < h.values.length; i++) {
            await r.out.append({ position: BigInt(i), timestamp: null, timestampType: null, key: null, value: new TextEncoder().encode(h.values[i]!), headers: [], attributes: null });
          }
          to.set(r.stream.name, BigInt(h.values.length));
        } else {
          const n = Math.min(options.limit ?? checkpoint, h.values.length);
          const taken = h.values.slice(0, n);
          const step = h.step ?? 1n;
          for (let i = 0; i < n; i++) {
            await r.out.append({ position: r.from + BigInt(i) * step, timestamp: null, timestampType: null, key: null, value: new TextEncoder().encode(taken[i]!), headers: [], attributes: null });
          }
          to.set(r.stream.name, n === 0 ? r.from : r.from + BigInt(n - 1) * step + 1n);
          events.push(`read ${r.stream.name} ${n}`);
          if (n === 0) return { to, more: false };
          return {
            to,
            more: h.values.length > n,
            settle: async () => {
              // the manifest holding these records must already be in the store
              events.push(`settle ${taken.join(',')} with ${(await store()).length} backups stored`);
              h.values.splice(0, n);
            },
          };
        }
      }
      return { to };
    },
    report: () => ({ lines: [], streams: {} }),
    async close() {
      events.push('close');
    },
  };
  return testAdapter({ openSource: async () => source });
}

describe('backup pipeline', () => {
  let dir: string;
  let store: LocalStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-backup-'));
    store = new LocalStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const ids = async () => (await listBackups(store)).map((b) => b.manifest.id);
  const run = (adapter: BrokerAdapter, full = false) =>
    backup({ adapter, url: 'test://host', adapterOptions: {}, store, full, toolVersion: 'test', signal: new AbortController().signal, progress: silentProgress, debug: false, env: {} });

  it('drains checkpoint by checkpoint: each a backup chained to the previous one, settled only once committed', async () => {
    const events: Event[] = [];
    const held: Held[] = [{ name: 'q', mode: 'drain', values: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] }];
    const r = await run(scriptedAdapter(held, events, ids));
    expect(r.backups.map((b) => b.manifest.kind)).toEqual(['full', 'incremental', 'incremental']);
    expect(r.backups[1]!.manifest.parent!.id).toBe(r.backups[0]!.manifest.id);
    expect(r.backups[2]!.manifest.parent!.id).toBe(r.backups[1]!.manifest.id);
    expect(r.backups.map((b) => [b.manifest.streams[0]!.from, b.manifest.streams[0]!.to])).toEqual([['0', '3'], ['3', '6'], ['6', '7']]);
    expect(events).toEqual(['read q 3', 'settle a,b,c with 1 backups stored', 'read q 3', 'settle d,e,f with 2 backups stored', 'read q 1', 'settle g with 3 backups stored', 'close']);
    expect(r.streams).toEqual([expect.objectContaining({ name: 'q', from: '0', to: '7', records: 7, acked: 7 })]);
    expect(held[0]!.values).toEqual([]);
    // the next run continues the chain's sequence numbers; an empty queue writes nothing then
    held[0]!.values.push('h');
    const again = await run(scriptedAdapter(held, events, ids));
    expect(again.backups.map((b) => [b.manifest.kind, b.manifest.parent?.id, b.manifest.streams[0]!.from])).toEqual([['incremental', r.backups[2]!.manifest.id, '7']]);
  });

  it('a drain whose positions have gaps counts the records it settled, not the positions', async () => {
    const r = await run(scriptedAdapter([{ name: 'q', mode: 'drain', values: ['a', 'b', 'c', 'd'], step: 10n }], [], ids));
    expect(r.backups.map((b) => [b.manifest.streams[0]!.from, b.manifest.streams[0]!.to, b.manifest.streams[0]!.records])).toEqual([['0', '21', 3], ['21', '22', 1]]);
    expect(r.streams[0]).toMatchObject({ records: 4, acked: 4 });
  });

  it('a stream of another lineage than its parent\'s (deleted and created again) makes a new full backup, with a warning', async () => {
    const first = await run(scriptedAdapter([{ name: 'l', mode: 'log', values: ['a'], lineage: 'id-1' }], [], ids));
    expect(first.backups[0]!.manifest.streams[0]!.extra).toEqual({ lineage: 'id-1' });
    const same = await run(scriptedAdapter([{ name: 'l', mode: 'log', values: ['a', 'b'], lineage: 'id-1' }], [], ids));
    expect(same.backups[0]!.manifest.kind).toBe('incremental');
    // recreated and already longer than before: only the lineage tells
    const other = await run(scriptedAdapter([{ name: 'l', mode: 'log', values: ['x', 'y', 'z'], lineage: 'id-2' }], [], ids));
    expect(other.backups[0]!.manifest.kind).toBe('full');
    expect(other.warnings.join('\n')).toMatch(/stream l is not the one backup \S+ read \(id-1, now id-2: recreated\?\): writing a new full backup/);
  });

  it('a drain of an empty queue still leaves one (empty) backup, settling nothing', async () => {
    const events: Event[] = [];
    const r = await run(scriptedAdapter([{ name: 'q', mode: 'drain', values: [] }], events, ids));
    expect(r.backups).toHaveLength(1);
    expect(r.backups[0]!.manifest.streams[0]).toMatchObject({ from: '0', to: '0', records: 0 });
    expect(events.filter((e) => e.startsWith('settle'))).toEqual([]);
  });

  it('log streams continue after the parent; --full and a snapshot stream write a full backup', async () => {
    const held: Held[] = [{ name: 'l', mode: 'log', values: ['a', 'b'] }];
    const first = await run(scriptedAdapter(held, [], ids));
    held[0]!.values.push('c');
    const inc = await run(scriptedAdapter(held, [], ids));
    expect(inc.backups[0]!.manifest).toMatchObject({ kind: 'incremental', parent: { id: first.backups[0]!.manifest.id } });
    expect(inc.backups[0]!.manifest.streams[0]).toMatchObject({ from: '2', to: '3', records: 1 });
    expect((await run(scriptedAdapter(held, [], ids), true)).backups[0]!.manifest.kind).toBe('full');
    const withSnapshot = await run(scriptedAdapter([...held, { name: 's', mode: 'snapshot', values: ['x'] }], [], ids));
    expect(withSnapshot.backups[0]!.manifest.kind).toBe('full');
    expect(withSnapshot.backups[0]!.manifest.streams.map((s) => [s.name, s.from, s.records])).toEqual([['l', '0', 3], ['s', '0', 1]]);
  });

  it('each segment is put with the SHA-256 of exactly the bytes put, the one its manifest entry records', async () => {
    // the body's chunks go back to a pool once put returns: hash them while the put has them
    const original = store.put.bind(store);
    const puts = new Map<string, { given: string | undefined; actual: string }>();
    const put = vi.spyOn(store as Store, 'put').mockImplementation(async (key, body, options) => {
      const parts = body instanceof Uint8Array ? [body] : body;
      puts.set(key, { given: options?.sha256, actual: parts.reduce((h, b) => h.update(b), createHash('sha256')).digest('hex') });
      return original(key, body, options);
    });
    const held: Held[] = [{ name: 'l', mode: 'log', values: ['a', 'b', 'c'] }, { name: 's', mode: 'snapshot', values: ['x'] }];
    const r = await run(scriptedAdapter(held, [], ids));
    const entries = r.backups[0]!.manifest.streams.flatMap((st) => st.segments);
    expect(entries.length).toBe(2);
    for (const e of entries) {
      expect(put.mock.calls.filter(([key]) => key === e.key).length).toBe(1);
      expect(puts.get(e.key)).toEqual({ given: e.sha256, actual: e.sha256 });
    }
    put.mockRestore();
  });

  it('positions deleted before they were backed up become a gap with a warning; a log that restarted behind its parent makes a new full backup', async () => {
    const held: Held[] = [{ name: 'l', mode: 'log', values: ['a', 'b'] }];
    await run(scriptedAdapter(held, [], ids));
    // retention took positions 2..4 before the next backup: the source now starts at 5
    const later: Held[] = [{ name: 'l', mode: 'log', values: ['f', 'g'], start: 5n }];
    const inc = await run(scriptedAdapter(later, [], ids));
    expect(inc.backups[0]!.manifest.streams[0]).toMatchObject({ from: '2', to: '7', records: 2, gaps: [{ from: '2', to: '5', reason: 'retention' }] });
    expect(inc.warnings).toContain('stream l: offsets 2..4 were deleted by retention before they were backed up');
    // recreated: it now ends at 1, before 7 where the last backup ended
    const recreated = await run(scriptedAdapter([{ name: 'l', mode: 'log', values: ['z'] }], [], ids));
    expect(recreated.backups[0]!.manifest.kind).toBe('full');
    expect(recreated.warnings.join('\n')).toMatch(/stream l ends at 1, before 7 where backup \S+ ended \(recreated\?\): writing a new full backup/);
  });
});
