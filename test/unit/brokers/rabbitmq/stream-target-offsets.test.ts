import { describe, expect, it } from 'vitest';
import type { OffsetRun } from '../../../../src/brokers/adapter.js';
import { addToRuns } from '../../../../src/brokers/rabbitmq/stream-target-offsets.js';

const ids = { stream: 'rabbitmq/v/events', source: { vhost: 'v', queue: 'events', queueType: 'stream' }, target: { vhost: 'v', queue: 'copy', queueType: 'stream' } };

function runsOf(pairs: Array<[number, number]>): Array<[string, string, string]> {
  const runs: OffsetRun[] = [];
  for (const [p, o] of pairs) addToRuns(runs, ids, BigInt(p), BigInt(o));
  for (const r of runs) expect(r).toMatchObject(ids);
  return runs.map((r) => [String(r.sourceStart), String(r.sourceEnd), String(r.targetStart)]);
}

describe('offset runs of a stream-queue target', () => {
  it('consecutive positions on consecutive offsets make one run', () => {
    expect(runsOf([[0, 2], [1, 3], [2, 4]])).toEqual([['0', '2', '2']]);
  });
  it('a source position left out (failed, skipped) or a target offset taken by another publisher starts a new run', () => {
    expect(runsOf([[0, 10], [1, 11], [3, 12], [4, 14], [5, 15]])).toEqual([
      ['0', '1', '10'],
      ['3', '3', '12'],
      ['4', '5', '14'],
    ]);
  });
  it('no records, no runs', () => {
    expect(runsOf([])).toEqual([]);
  });
});
