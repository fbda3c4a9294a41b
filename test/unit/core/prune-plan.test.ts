import { describe, expect, it } from 'vitest';
import { manifestDeleteOrder, planPrune, type ListedObject } from '../../../src/core/prune-plan.js';
import { segmentKey } from '../../../src/archive/keys.js';

const H = 3_600_000;
const now = Date.UTC(2026, 11, 4, 12, 0, 0);
const old = '20261201T020000000Z-aaaaaa'; // 3.4 days before now
const recent = '20261204T110000000Z-bbbbbb'; // 1 hour before now
const kept = '20261202T020000000Z-cccccc';

const seg = (id: string, stream: number, seq: number, size = 100, modified: number | null = null): ListedObject => ({ key: segmentKey(id, stream, seq), size, modified });

describe('planPrune', () => {
  const segments = [seg(old, 0, 0), seg(old, 0, 1, 50), seg(kept, 0, 0), seg(recent, 0, 0, 70), seg(recent, 1, 0, 30)];
  const referenced = new Set([segmentKey(kept, 0, 0)]);

  it('deletes unreferenced segments older than the grace period, keeps young ones and referenced ones', () => {
    const p = planPrune({ referenced, segments, forgotten: new Set(), now, graceMs: 24 * H });
    expect(p.delete).toEqual([segmentKey(old, 0, 0), segmentKey(old, 0, 1)]);
    expect(p.bytes).toBe(150);
    expect(p.young.map((y) => y.key)).toEqual([segmentKey(recent, 0, 0), segmentKey(recent, 1, 0)]);
  });

  it('a segment written recently counts from its write time, not its backup id', () => {
    // a backup that started long ago and is still writing
    const p = planPrune({ referenced, segments: [seg(old, 2, 7, 10, now - H)], forgotten: new Set(), now, graceMs: 24 * H });
    expect(p.delete).toEqual([]);
    expect(p.young).toHaveLength(1);
  });

  it('segments of a backup this run forgot go at once; a shared segment stays while any manifest refers to it', () => {
    const p = planPrune({ referenced: new Set([segmentKey(recent, 1, 0)]), segments, forgotten: new Set([recent]), now, graceMs: 24 * H });
    expect(p.delete).toContain(segmentKey(recent, 0, 0));
    expect(p.delete).not.toContain(segmentKey(recent, 1, 0));
  });

  it('never touches what is not a segment key of mqbak', () => {
    const p = planPrune({ referenced, segments: [{ key: 'segments/notes.txt', size: 1, modified: 0 }], forgotten: new Set(), now, graceMs: 0 });
    expect(p.delete).toEqual([]);
    expect(p.unknown).toEqual(['segments/notes.txt']);
  });
});

describe('manifestDeleteOrder', () => {
  it('deletes children before parents: newest first', () => {
    expect(manifestDeleteOrder([old, recent, kept])).toEqual([recent, kept, old]);
  });
});
