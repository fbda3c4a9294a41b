/**
 * core's restore check (src/core/restore-check.ts) on its own: a scripted adapter whose source
 * hands over the target records a test gives (no broker: what is tested is how the core matches
 * them to the archive through the offset runs or in order, and what it names), a backup written
 * by the backup writer into a local store in a temporary folder.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BrokerAdapter, BrokerSource, OffsetRun, ReadMode, ReadRequest, SinkPlan } from '../../../src/brokers/adapter.js';
import { silentProgress } from '../../../src/common/progress.js';
import type { ArchiveRecord } from '../../../src/common/record.js';
import { openBackupWriter } from '../../../src/core/backup-writer.js';
import { checkRestore, type CheckOptions } from '../../../src/core/restore-check.js';
import { planRestore } from '../../../src/core/restore-planner.js';
import { resolveChain } from '../../../src/core/backup-reader.js';
import { LocalStore } from '../../../src/stores/local.js';
import { testAdapter } from '../../helpers/test-adapter.js';

const record = (position: bigint, value: number, timestamp = Number(position) * 1000): ArchiveRecord => ({
  position,
  timestamp,
  timestampType: null,
  key: null,
  value: new Uint8Array([value]),
  headers: [{ name: 'h', value: new Uint8Array([value, 1]) }],
  attributes: null,
});

/** Archive records 0..9 hold values 0..9; the target holds `target`, read as `mode`. */
function scriptedAdapter(target: ArchiveRecord[], mode: ReadMode, reads: Array<{ from: bigint; end: bigint | null }>): BrokerAdapter {
  const source: BrokerSource = {
    async select() {
      return { chainKey: 't', options: {}, warnings: [], streams: [{ name: 'test/a2', address: { stream: 'a2' }, mode, start: 0n, end: 1000n, extra: {} }] };
    },
    async metadata() {
      return { metadata: {}, warnings: [] };
    },
    async read(requests: ReadRequest[]) {
      for (const r of requests) {
        reads.push({ from: r.from, end: r.stream.end });
        // a log stream: only [from, end), as the adapters read
        const wanted = mode === 'log' ? target.filter((t) => t.position >= r.from && t.position < (r.stream.end ?? 0n)) : target;
        await r.out.appendMany(wanted);
      }
      return { to: new Map() };
    },
    report: () => ({ lines: [], streams: {} }),
    async close() {},
  };
  return testAdapter({
    openSource: async () => source,
    // the target stamps its own timestamps: not compared
    readBack: async () => ({ sourceOptions: {}, checked: (r, side) => ({ key: r.key, value: r.value, headers: r.headers, ...(side === 'target' ? {} : { timestamp: r.timestamp }) }) }),
  });
}

describe('restore check', () => {
  let dir: string;
  let store: LocalStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-check-'));
    store = new LocalStore(dir);
    const w = await openBackupWriter({ store, kind: 'full', parent: null, source: { broker: 'test', url: 'test://src', chainKey: 'k', options: {} }, toolVersion: 'test' });
    const s = w.openStream({ name: 'test/a', address: { stream: 'a' }, from: 0n });
    for (let p = 0n; p < 10n; p++) await s.append(record(p, Number(p)));
    await s.close(10n);
    await w.commit();
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function check(target: ArchiveRecord[], mode: ReadMode, runs: OffsetRun[] | null, reads: Array<{ from: bigint; end: bigint | null }> = []) {
    const adapter = scriptedAdapter(target, mode, reads);
    const chain = await resolveChain(store, 'latest');
    const plan = planRestore(
      chain.map((c) => c.manifest),
      adapter,
      { renames: { a: 'a2' } },
    );
    const o: CheckOptions = { adapter, store, url: 'test://target', adapterOptions: {}, until: null, signal: new AbortController().signal, progress: silentProgress, debug: false, env: {} };
    const sinkPlan: SinkPlan & { targets: typeof plan.streams } = { backupId: plan.backupId, metadata: {}, renames: plan.renames, targets: plan.streams };
    return checkRestore(o, sinkPlan, runs);
  }
  const run = (sourceStart: bigint, sourceEnd: bigint, targetStart: bigint): OffsetRun => ({ stream: 'test/a', source: { stream: 'a' }, target: { stream: 'a2' }, sourceStart, sourceEnd, targetStart });
  // source 0..4 at target 100..104, 5..9 at 200..204; another publisher's record at 150
  const runs = [run(5n, 9n, 200n), run(0n, 4n, 100n)];
  const restored = (change: (p: bigint) => ArchiveRecord | null = (p) => record(p < 5n ? 100n + p : 195n + p, Number(p), 1)) =>
    Array.from({ length: 10 }, (_, i) => change(BigInt(i))).filter((r): r is ArchiveRecord => r !== null);

  it('matches target records to the archive through the offset runs, reading only the mapped range; others ignored', async () => {
    const reads: Array<{ from: bigint; end: bigint | null }> = [];
    const target = [record(99n, 42), ...restored().slice(0, 5), record(150n, 42), ...restored().slice(5), record(205n, 42)];
    const r = await check(target, 'log', runs, reads);
    expect(reads).toEqual([{ from: 100n, end: 205n }]);
    expect(r.difference).toBeNull();
    expect(r.ok).toBe(true);
    expect(r.records).toBe(10);
    expect(r.streams).toMatchObject([{ name: 'test/a', target: 'stream a2', expected: 10, found: 10 }]);
    // the digest covers the compared fields only: the same for the same records
    expect(r.streams[0]!.digest).toBe((await check(target, 'log', runs)).streams[0]!.digest);
  });

  it('names a changed value by source and target position, a missing record by source position', async () => {
    const changed = await check(restored((p) => record(p < 5n ? 100n + p : 195n + p, p === 6n ? 99 : Number(p))), 'log', runs);
    expect(changed.ok).toBe(false);
    expect(changed.records).toBe(9);
    expect(changed.difference).toEqual({
      stream: 'test/a',
      target: 'stream a2',
      sourcePosition: '6',
      targetPosition: '201',
      kind: 'value',
      message: 'test/a -> stream a2: record at source position 6 (target position 201): value differs',
    });
    const missing = await check(restored((p) => (p === 3n ? null : record(p < 5n ? 100n + p : 195n + p, Number(p)))), 'log', runs);
    expect(missing.difference).toMatchObject({ sourcePosition: '3', targetPosition: null, kind: 'missing' });
    const last = await check(restored((p) => (p === 9n ? null : record(p < 5n ? 100n + p : 195n + p, Number(p)))), 'log', runs);
    expect(last.difference).toMatchObject({ sourcePosition: '9', kind: 'missing', message: 'test/a -> stream a2: record at source position 9 is not on the target (9 of 10 records found)' });
    expect(last.streams[0]).toMatchObject({ expected: 10, found: 9 });
  });

  it('without runs (a queue, or --check-only) matches in order: an extra record at the end, a changed header', async () => {
    const inOrder = (p: bigint) => record(p, Number(p), 1);
    expect((await check(Array.from({ length: 10 }, (_, i) => inOrder(BigInt(i))), 'snapshot', [])).ok).toBe(true);
    const extra = await check([...Array.from({ length: 10 }, (_, i) => inOrder(BigInt(i))), inOrder(10n)], 'snapshot', []);
    expect(extra.difference).toMatchObject({ sourcePosition: null, targetPosition: '10', kind: 'extra' });
    const header = Array.from({ length: 10 }, (_, i) => inOrder(BigInt(i)));
    header[2] = { ...header[2]!, headers: [{ name: 'h', value: null }] };
    expect((await check(header, 'log', null)).difference).toMatchObject({ sourcePosition: '2', targetPosition: '2', kind: 'headers' });
  });
});
