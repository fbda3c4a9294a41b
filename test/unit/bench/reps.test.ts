import { describe, expect, it } from 'vitest';
import { NOISY_BASELINE_REPS, SPREAD_LIMIT, extraReps, sampleRounds, type Sampled } from '../../../bench/lib/reps.js';

const m = (tool: Sampled['tool'], seconds: number[], error?: string) => ({ tool, samples: seconds.map((s) => ({ seconds: s })), ...(error ? { error } : {}) });

describe('bench repetitions', () => {
  it('a baseline spread over 20% of its median gets samples up to 5; one within it gets none', () => {
    expect(SPREAD_LIMIT).toBe(0.2);
    expect(NOISY_BASELINE_REPS).toBe(5);
    expect(extraReps(m('baseline', [1.0, 1.1, 1.3]))).toBe(2); // (1.3 - 1.0) / 1.1 = 27%
    expect(extraReps(m('baseline', [1.0, 1.1, 1.2]))).toBe(0); // 18%
    expect(extraReps(m('baseline', [4, 5, 5]))).toBe(0); // exactly 20%: not over
    expect(extraReps(m('baseline', [1, 2]))).toBe(3); // --reps 2
    expect(extraReps(m('baseline', [1, 2, 3, 4, 5]))).toBe(0); // already 5
    expect(extraReps(m('baseline', [1, 2, 3, 4, 5, 6, 7]))).toBe(0);
    expect(extraReps(m('baseline', [1]))).toBe(0); // one sample has no spread
    expect(extraReps(m('baseline', []))).toBe(0);
  });

  it('mqbak runs and failed baselines get no extra samples', () => {
    expect(extraReps(m('mqbak', [1, 2, 3]))).toBe(0);
    expect(extraReps(m('baseline', [1, 2, 3], 'exit 1'))).toBe(0);
  });

  it('rounds: base rounds for all, then extra rounds only for the noisy baselines', async () => {
    const times: Record<string, number[]> = { quiet: [1.0, 1.05, 1.1, 9, 9], noisy: [1, 2, 3, 2.5, 2], mq: [5, 9, 1, 9, 9] };
    const ms = {
      quiet: { ...m('baseline', []), name: 'quiet' },
      noisy: { ...m('baseline', []), name: 'noisy' },
      mq: { ...m('mqbak', []), name: 'mq' },
    };
    const seen: string[] = [];
    await sampleRounds(Object.values(ms), 3, async (i, want) => {
      for (const x of Object.values(ms)) {
        if (!want(x)) continue;
        seen.push(`${i}:${x.name}`);
        x.samples = [...x.samples, { seconds: times[x.name]![x.samples.length]! }];
      }
    });
    expect(seen).toEqual(['0:quiet', '0:noisy', '0:mq', '1:quiet', '1:noisy', '1:mq', '2:quiet', '2:noisy', '2:mq', '3:noisy', '4:noisy']);
    expect(ms.noisy.samples.map((s) => s.seconds)).toEqual([1, 2, 3, 2.5, 2]);
    expect(ms.mq.samples).toHaveLength(3);
  });

  it('no extra rounds when every baseline is quiet, and base rounds as asked (--reps)', async () => {
    const b = m('baseline', []);
    let rounds = 0;
    await sampleRounds([b], 4, async () => {
      rounds++;
      b.samples = [...b.samples, { seconds: 1 }];
    });
    expect(rounds).toBe(4);
  });
});
