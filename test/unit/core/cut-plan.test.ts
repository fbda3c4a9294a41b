import { describe, expect, it } from 'vitest';
import type { Manifest, SegmentEntry, StreamEntry } from '../../../src/archive/manifest.js';
import { segmentKey } from '../../../src/archive/keys.js';
import { planCut } from '../../../src/core/cut-plan.js';

const FULL = '20261101T000000000Z-aaaaaa';
const INC = '20261102T000000000Z-bbbbbb';

function seg(id: string, seq: number, first: number, last: number, t: [number | null, number | null]): SegmentEntry {
  return { key: segmentKey(id, 0, seq), bytes: 100 + seq, sha256: 'a'.repeat(64), records: last - first + 1, firstPosition: String(first), lastPosition: String(last), firstTimestamp: t[0], lastTimestamp: t[1] };
}

function stream(from: number, to: number, segments: SegmentEntry[], extra: Record<string, unknown> = {}, gaps: StreamEntry['gaps'] = []): StreamEntry {
  return { name: 'kafka/orders/0', address: { topic: 'orders', partition: 0 }, from: String(from), to: String(to), records: segments.reduce((n, g) => n + g.records, 0), segments, gaps, extra };
}

function manifest(id: string, streams: StreamEntry[], parent: string | null): Manifest {
  return {
    format: 'mqbak', version: 2, id, kind: parent ? 'incremental' : 'full', parent: parent ? { id: parent, sha256: 'b'.repeat(64) } : null,
    source: { broker: 'kafka', url: 'kafka://h:9092', chainKey: 'kafka:c:orders', options: {} }, streams, metadata: {},
    tool: { name: 'mqbak', version: '0' }, startedAt: '2026-11-01T00:00:00.000Z', endedAt: '2026-11-01T00:00:01.000Z', warnings: [],
  };
}

const chain = [
  manifest(FULL, [stream(0, 300, [seg(FULL, 0, 5, 99, [10, 20]), seg(FULL, 1, 100, 199, [20, 30]), seg(FULL, 2, 200, 299, [30, 60])], { lineage: 'old' }, [{ from: '0', to: '5', reason: 'retention' }])], null),
  manifest(INC, [stream(300, 410, [seg(INC, 0, 300, 399, [60, 70]), seg(INC, 1, 400, 409, [70, 80])], { lineage: 'new' })], FULL),
];

describe('planCut', () => {
  it('leaves out whole segments older than the cutoff, oldest first; the range starts after the last left out', () => {
    const plan = planCut(chain, 40);
    expect(plan.of).toBe(INC);
    const [s] = plan.streams;
    expect(s!.segments.map((g) => g.key)).toEqual([segmentKey(FULL, 0, 2), segmentKey(INC, 0, 0), segmentKey(INC, 0, 1)]);
    expect([s!.from, s!.to, s!.records]).toEqual(['200', '410', 210]);
    // the retention gap lies before the cut, and the head's lineage wins
    expect(s!.gaps).toEqual([]);
    expect(s!.extra).toEqual({ lineage: 'new' });
    expect(plan.summary).toEqual([{ name: 'kafka/orders/0', keptSegments: 3, keptRecords: 210, droppedSegments: 2, droppedRecords: 195, droppedBytes: 201 }]);
    expect(plan.referenced).toEqual([FULL, INC]);
  });

  it('a segment holding a newer record keeps itself and all after it; a cutoff before everything keeps the chain whole', () => {
    expect(planCut(chain, 25).streams[0]!.segments).toHaveLength(4);
    const whole = planCut(chain, 0);
    expect(whole.streams[0]).toMatchObject({ from: '0', to: '410', records: 405, gaps: [{ from: '0', to: '5', reason: 'retention' }] });
    expect(whole.summary[0]!.droppedSegments).toBe(0);
  });

  it('records without a timestamp stop the cut: they might be newer', () => {
    const noTime = [manifest(FULL, [stream(0, 300, [seg(FULL, 0, 0, 99, [10, 20]), seg(FULL, 1, 100, 199, [null, null]), seg(FULL, 2, 200, 299, [30, 40])])], null)];
    expect(planCut(noTime, 1000).streams[0]!.segments.map((g) => g.firstPosition)).toEqual(['100', '200']);
  });

  it('a cutoff after every record leaves the stream empty, its range ending where the chain ended', () => {
    const plan = planCut(chain, 1000);
    expect(plan.streams[0]).toMatchObject({ from: '410', to: '410', records: 0, segments: [] });
    expect(plan.referenced).toEqual([]);
  });
});
