import { describe, expect, it } from 'vitest';
import { SeqRuns, translateSeq } from '../../../../src/brokers/nats/seq-runs.js';
import { MqbakError } from '../../../../src/common/errors.js';

const src = { stream: 'A' };
const dst = { stream: 'B' };

describe('JetStream restore runs', () => {
  it('consecutive pairs make one run; a source gap or a target jump starts another', () => {
    const r = new SeqRuns();
    for (const [s, t] of [[1, 10], [2, 11], [3, 12], [5, 13], [6, 14], [7, 20]] as const) r.add(s, t);
    expect(r.toJson()).toEqual([[1, 3, 10], [5, 6, 13], [7, 7, 20]]);
  });
  it('runs from a journal plus later ones come out sorted by source and merged where they meet', () => {
    const r = SeqRuns.fromJson(JSON.parse(JSON.stringify([[1, 3, 1]])), 'nats/A');
    r.add(7, 9); // a retried failure that landed after later messages...
    r.add(4, 4); // ...and messages continuing the first run
    r.add(5, 5);
    r.add(6, 6);
    const runs = r.offsetRuns('nats/A', src, dst).map((x) => [x.sourceStart, x.sourceEnd, x.targetStart]);
    expect(runs).toEqual([[1n, 6n, 1n], [7n, 7n, 9n]]);
  });
  it('a journal entry that is not runs is a usage error', () => {
    expect(() => SeqRuns.fromJson([[1, 2]], 'nats/A')).toThrow(MqbakError);
    expect(() => SeqRuns.fromJson('x', 'nats/A')).toThrow(/not \[\[sourceStart/);
  });
  it('a consumer resumes at the first restored message at or after its first unacknowledged sequence', () => {
    const runs = new SeqRuns([[1, 1, 1], [3, 10, 2]]).offsetRuns('nats/A', src, dst);
    expect(translateSeq(runs, 1n, 100n)).toBe(1n);
    expect(translateSeq(runs, 2n, 100n)).toBe(2n); // 2 was deleted: the next one, source 3
    expect(translateSeq(runs, 5n, 100n)).toBe(4n);
    expect(translateSeq(runs, 11n, 100n)).toBe(100n); // everything acknowledged: the target's end
  });
});
