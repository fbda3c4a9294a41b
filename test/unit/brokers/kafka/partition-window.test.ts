import { describe, expect, it } from 'vitest';
import { PartitionWindow } from '../../../../src/brokers/kafka/partition-window.js';

describe('PartitionWindow', () => {
  it('admits at most `size` partitions, in order, the next ones as soon as some are done with', () => {
    const w = new PartitionWindow([0, 1, 2, 3, 4, 5, 6], 3);
    expect(w.active).toEqual([0, 1, 2]);
    expect(w.notAdmitted()).toEqual([3, 4, 5, 6]);
    expect(w.keep((p) => p !== 1)).toEqual([0, 2, 3]);
    expect(w.keep((p) => p === 3)).toEqual([3, 4, 5]);
    expect(w.notAdmitted()).toEqual([6]);
    expect(w.keep(() => true)).toEqual([3, 4, 5]);
    expect(w.keep((p) => p !== 4)).toEqual([3, 5, 6]);
    expect(w.notAdmitted()).toEqual([]);
    expect(w.keep(() => false)).toEqual([]);
  });

  it('holds all partitions when they are fewer than its size', () => {
    const w = new PartitionWindow(['a', 'b', 'c'], 64);
    expect(w.active).toEqual(['a', 'b', 'c']);
    expect(w.notAdmitted()).toEqual([]);
    expect(new PartitionWindow([], 4).active).toEqual([]);
  });

  it('refuses a size under 1', () => {
    expect(() => new PartitionWindow([1], 0)).toThrow(RangeError);
    expect(() => new PartitionWindow([1], Number.NaN)).toThrow(RangeError);
  });
});
