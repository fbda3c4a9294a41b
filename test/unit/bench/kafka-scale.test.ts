import { describe, expect, it } from 'vitest';
import { scaleShapes, smallRecord } from '../../../bench/lib/kafka-scale.js';

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
