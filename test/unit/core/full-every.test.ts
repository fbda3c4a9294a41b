import { describe, expect, it } from 'vitest';
import { parseFullEvery, startsNewChain } from '../../../src/core/full-every.js';

const D = 86_400_000;

describe('--full-every', () => {
  it('reads a count or a duration, and refuses the rest', () => {
    expect(parseFullEvery('30')).toEqual({ kind: 'count', n: 30 });
    expect(parseFullEvery('7d')).toEqual({ kind: 'age', ms: 7 * D, text: '7d' });
    for (const bad of ['0', '-1', '7 days', 'weekly', '']) expect(() => parseFullEvery(bad)).toThrow(/--full-every/);
  });
  it('a count: a new chain once the chain holds n backups', () => {
    const rule = parseFullEvery('3');
    expect(startsNewChain(rule, { fullTime: 0, chainLength: 2 }, 10 * D).yes).toBe(false);
    expect(startsNewChain(rule, { fullTime: 0, chainLength: 3 }, 0)).toEqual({ yes: true, why: 'the chain holds 3 backup(s), --full-every 3' });
  });
  it('a duration: a new chain once the full is that old', () => {
    const rule = parseFullEvery('7d');
    expect(startsNewChain(rule, { fullTime: 0, chainLength: 100 }, 7 * D - 1).yes).toBe(false);
    expect(startsNewChain(rule, { fullTime: 0, chainLength: 1 }, 7 * D).yes).toBe(true);
  });
});
