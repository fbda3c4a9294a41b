import { describe, expect, it } from 'vitest';
import { scaleShapes, scaleTargets, smallRecord } from '../../../bench/lib/kafka-scale.js';
import { finish, record, results } from '../../../bench/lib/harness.js';

describe('bench scale scenario', () => {
  it('small records: 100-byte JSON values, deterministic, no tab or newline (kcat -K delimiters)', () => {
    for (const i of [0, 1, 9_999, 123_456, 1_000_000]) {
      const r = smallRecord(i);
      expect(Buffer.byteLength(r.value)).toBe(100);
      expect(JSON.parse(r.value).seq).toBe(i);
      expect(r.value).not.toMatch(/[\t\n]/);
      expect(r).toEqual(smallRecord(i));
    }
  });

  it('shapes: 200 and 2,000 partitions, 5 and 50 topics, the same records per partition or topic at both sizes', () => {
    const [p1, p10, t1, t10] = scaleShapes(1_000_000);
    expect([p1!.partitions, p10!.partitions, t1!.topics, t10!.topics]).toEqual([200, 2000, 5, 50]);
    expect(p1!.records / p1!.partitions).toBe(p10!.records / p10!.partitions);
    expect(t1!.records / t1!.topics).toBe(t10!.records / t10!.topics);
    expect(p10!.records).toBe(1_000_000);
  });
});

describe('bench scale targets', () => {
  it('time per record at 1x against 1/10, and peak RSS of each shape under the limit', () => {
    results.length = 0;
    const run = (name: string, n: number, seconds: number[], rss: number) => {
      const m = record(name, 'mqbak', n, n * 110);
      m.samples = seconds.map((s) => ({ seconds: s, peakRssMb: rss, brokerCpuSeconds: null }));
      finish(m);
    };
    run('kafka scale: mqbak backup, 1 topic x 200 partitions', 2_000, [1, 2, 9], 100);
    run('kafka scale: mqbak backup, 1 topic x 2,000 partitions', 20_000, [26, 20, 24], 250);
    run('kafka scale: mqbak backup, 5 topics x 4 partitions', 2_000, [1], 90);
    const t = Object.fromEntries(scaleTargets(20_000, 192).map((x) => [x.id, x]));
    // medians 2 s and 24 s for 10x the records: 1.2x the time per record, met
    expect(t['scale-partitions-time']?.value).toBeCloseTo(1.2);
    expect(t['scale-partitions-time']?.met).toBe(true);
    expect(t['scale-partitions-rss']).toMatchObject({ value: 250, met: false });
    // the 50-topic shape did not run: not measured, not met
    expect(t['scale-topics-time']).toMatchObject({ value: null, met: null });
    expect(t['scale-topics-rss']).toMatchObject({ value: 90, met: true });
    results.length = 0;
  });

  it('no targets when the scenario did not run', () => {
    results.length = 0;
    expect(scaleTargets(20_000, 192)).toEqual([]);
  });
});
