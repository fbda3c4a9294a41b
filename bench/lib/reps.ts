// How many samples each kind of run gets. Every kind runs a base count of rounds (--reps, default
// 3; the RabbitMQ scenarios 5), interleaved so that a slow spell of the machine hits all kinds of a
// round alike. Then a baseline whose samples spread more than SPREAD_LIMIT ((max - min) / median)
// gets more rounds, up to NOISY_BASELINE_REPS samples, so that its median does not rest on three
// samples of which one or two were disturbed. mqbak's own runs get no extra rounds: a target
// compares medians, and an mqbak figure that varies that much is something to look at, not to
// average away. No IO here, so test/unit/bench/reps.test.ts can check the rule.
import { summarize } from './stats.js';

export const SPREAD_LIMIT = 0.2;
export const NOISY_BASELINE_REPS = 5;

/** What the rule needs of a measure. */
export interface Sampled {
  tool: 'mqbak' | 'baseline';
  samples: readonly { seconds: number }[];
  error?: string;
}

/** How many more samples `m` needs after its base rounds: 0, or enough to reach NOISY_BASELINE_REPS. */
export function extraReps(m: Sampled): number {
  if (m.tool !== 'baseline' || m.error) return 0;
  const s = summarize(m.samples.map((x) => x.seconds));
  if (!s || s.spread <= SPREAD_LIMIT) return 0;
  return Math.max(0, NOISY_BASELINE_REPS - m.samples.length);
}

/**
 * Runs `base` rounds in which every measure is wanted, then as many extra rounds as the noisiest
 * baseline asks for, in which only the measures that still need a sample are wanted. `round` runs
 * (unmeasured) whatever a wanted measure depends on, e.g. refilling a queue.
 */
export async function sampleRounds<M extends Sampled>(
  measures: readonly M[],
  base: number,
  round: (i: number, want: (m: M) => boolean) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < base; i++) await round(i, () => true);
  const more = new Map(measures.map((m) => [m, extraReps(m)]));
  const rounds = Math.max(0, ...more.values());
  for (let j = 0; j < rounds; j++) await round(base + j, (m) => (more.get(m) ?? 0) > j && !m.error);
}
