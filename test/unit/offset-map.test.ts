import { describe, expect, it } from 'vitest';
import { OffsetMapBuilder, offsetRunToJson, translateCommitted } from '../../src/core/offset-map.js';

describe('offset map', () => {
  it('groups consecutive source offsets into runs and splits at gaps', () => {
    const b = new OffsetMapBuilder('a', 1, 'b', 1);
    let t = 100n;
    for (const s of [5n, 6n, 7n, 10n, 11n, 20n]) b.add(s, t++);
    expect(b.runs.map(offsetRunToJson).map((l) => JSON.parse(l))).toEqual([
      { topic: 'a', partition: 1, targetTopic: 'b', targetPartition: 1, sourceStart: 5, sourceEnd: 7, targetStart: 100 },
      { topic: 'a', partition: 1, targetTopic: 'b', targetPartition: 1, sourceStart: 10, sourceEnd: 11, targetStart: 103 },
      { topic: 'a', partition: 1, targetTopic: 'b', targetPartition: 1, sourceStart: 20, sourceEnd: 20, targetStart: 105 },
    ]);
  });

  it('translates a committed offset to the first restored record at or after it', () => {
    const b = new OffsetMapBuilder('a', 0, 'a', 0);
    let t = 0n;
    for (const s of [5n, 6n, 7n, 10n, 11n]) b.add(s, t++);
    expect(translateCommitted(b.runs, 0n, 99n)).toBe(0n); // before everything
    expect(translateCommitted(b.runs, 6n, 99n)).toBe(1n); // inside a run
    expect(translateCommitted(b.runs, 8n, 99n)).toBe(3n); // in a gap: the next restored record
    expect(translateCommitted(b.runs, 11n, 99n)).toBe(4n);
    expect(translateCommitted(b.runs, 12n, 99n)).toBe(99n); // past the end: log end
    expect(translateCommitted([], 3n, 7n)).toBe(7n);
  });
});
