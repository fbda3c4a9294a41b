import { describe, expect, it } from 'vitest';
import { bucketOf, hasRules, parseDuration, planRetention, type RetentionBackup } from '../../../src/core/retention-policy.js';
import { newBackupId } from '../../../src/archive/keys.js';

const H = 3_600_000;
const D = 24 * H;

/** A chain of backups at the given times (ms): the first a full, each next an incremental of the one before. */
function chain(chainKey: string, times: number[], fullEvery = Infinity): RetentionBackup[] {
  const out: RetentionBackup[] = [];
  times.forEach((t, i) => {
    const id = newBackupId(new Date(t), (i + chainKey.length * 16).toString(16).padStart(6, '0').slice(-6));
    const parent = i % fullEvery === 0 || i === 0 ? null : out[i - 1]!.id;
    out.push({ id, time: t, chainKey, parent });
  });
  return out;
}

const kept = (plan: ReturnType<typeof planRetention>, key = 'a') => plan.find((p) => p.chainKey === key)!.keep.map((k) => k.id);
const removed = (plan: ReturnType<typeof planRetention>, key = 'a') => plan.find((p) => p.chainKey === key)!.remove;

describe('planRetention', () => {
  const t0 = Date.UTC(2026, 0, 5, 2, 0, 0); // a Monday, 02:00 UTC

  it('refuses a policy without a rule, and negative counts', () => {
    expect(hasRules({})).toBe(false);
    expect(hasRules({ ids: [] })).toBe(false);
    expect(() => planRetention([], {})).toThrow(/no retention rule/);
    expect(() => planRetention([], { last: -1 })).toThrow(/whole number/);
  });

  it('--keep-last 1 on a chain of five keeps all five: the newest needs its ancestors', () => {
    const c = chain('a', [0, 1, 2, 3, 4].map((i) => t0 + i * D));
    const plan = planRetention(c, { last: 1 });
    expect(kept(plan)).toEqual([...c].reverse().map((b) => b.id));
    expect(removed(plan)).toEqual([]);
    const reasons = plan[0]!.keep;
    expect(reasons[0]!.reasons).toEqual(['last']);
    expect(reasons[4]!.reasons).toEqual(expect.arrayContaining([`ancestor of ${c[4]!.id}`]));
  });

  it('a chain restarted by a new full can be forgotten whole', () => {
    // fulls at days 0 and 3; incrementals in between
    const c = chain('a', [0, 1, 2, 3, 4, 5].map((i) => t0 + i * D), 3);
    const plan = planRetention(c, { last: 2 });
    expect(kept(plan)).toEqual([c[5]!.id, c[4]!.id, c[3]!.id]);
    expect(removed(plan)).toEqual([c[2]!.id, c[1]!.id, c[0]!.id]);
  });

  it('keep-daily keeps the newest backup of each of the last N days that have one', () => {
    // three fulls a day for four days
    const times = [0, 1, 2, 3].flatMap((d) => [0, 6, 12].map((h) => t0 + d * D + h * H));
    const c = times.map((t, i) => ({ id: newBackupId(new Date(t), i.toString(16).padStart(6, '0')), time: t, chainKey: 'a', parent: null }));
    const plan = planRetention(c, { daily: 2 });
    expect(kept(plan)).toEqual([c[11]!.id, c[8]!.id]);
    expect(plan[0]!.keep[0]!.reasons).toEqual(['daily 2026-01-08']);
    expect(removed(plan)).toHaveLength(10);
  });

  it('hourly, weekly, monthly and yearly buckets are UTC calendar buckets', () => {
    expect(bucketOf('hourly', Date.UTC(2026, 11, 4, 23, 59))).toBe('2026-12-04T23h');
    expect(bucketOf('weekly', Date.UTC(2026, 0, 1))).toBe('2026-W01'); // a Thursday
    expect(bucketOf('weekly', Date.UTC(2027, 0, 1))).toBe('2026-W53'); // a Friday of 2026's last week
    expect(bucketOf('weekly', Date.UTC(2026, 0, 4))).toBe('2026-W01'); // Sunday: still week 1
    expect(bucketOf('weekly', Date.UTC(2026, 0, 5))).toBe('2026-W02'); // Monday
    expect(bucketOf('monthly', Date.UTC(2026, 1, 28))).toBe('2026-02');
    expect(bucketOf('yearly', Date.UTC(2026, 1, 28))).toBe('2026');
  });

  it('keep-weekly and keep-monthly over a year of nightly fulls', () => {
    const times = Array.from({ length: 365 }, (_, i) => t0 + i * D);
    const c = times.map((t, i) => ({ id: newBackupId(new Date(t), i.toString(16).padStart(6, '0')), time: t, chainKey: 'a', parent: null }));
    const plan = planRetention(c, { daily: 7, weekly: 4, monthly: 12 });
    const ids = new Set(kept(plan));
    // the 7 newest days, the newest of 4 weeks (the newest week's is already among the days), 12 months
    for (const b of c.slice(-7)) expect(ids.has(b.id)).toBe(true);
    const months = new Set(kept(plan).map((id) => c.find((b) => b.id === id)!.time).map((t) => bucketOf('monthly', t)));
    expect(months.size).toBe(12);
    expect(ids.size).toBeLessThanOrEqual(7 + 4 + 12);
    expect(ids.size).toBeGreaterThanOrEqual(12 + 6);
  });

  it('keep-within counts back from the group\'s newest backup, not from now', () => {
    const c = chain('a', [0, 10, 20, 30].map((d) => t0 + d * D), 1);
    const plan = planRetention(c, { within: { text: '15d', ms: parseDuration('15d') } });
    expect(kept(plan)).toEqual([c[3]!.id, c[2]!.id]);
    expect(plan[0]!.keep[1]!.reasons).toEqual(['within 15d']);
  });

  it('keep-id keeps the named backup and its ancestors, and applies to its own group only', () => {
    const a = chain('a', [0, 1, 2, 3].map((i) => t0 + i * D));
    const b = chain('b', [0, 1].map((i) => t0 + i * D + H), 1);
    const plan = planRetention([...a, ...b], { ids: [a[1]!.id], last: 1 });
    expect(kept(plan, 'a')).toEqual([a[3]!.id, a[2]!.id, a[1]!.id, a[0]!.id]);
    expect(kept(plan, 'b')).toEqual([b[1]!.id]);
    expect(removed(plan, 'b')).toEqual([b[0]!.id]);
    const planIdOnly = planRetention([...a, ...b], { ids: [a[1]!.id] });
    expect(kept(planIdOnly, 'a')).toEqual([a[1]!.id, a[0]!.id]);
    expect(kept(planIdOnly, 'b')).toEqual([]);
  });

  it('each chain group gets the policy on its own', () => {
    const a = chain('a', [0, 1, 2].map((i) => t0 + i * D), 1);
    const b = chain('b', [0, 1, 2].map((i) => t0 + i * D + H), 1);
    const plan = planRetention([...b, ...a], { last: 1 });
    expect(plan.map((p) => p.chainKey)).toEqual(['b', 'a']);
    expect(kept(plan, 'a')).toEqual([a[2]!.id]);
    expect(kept(plan, 'b')).toEqual([b[2]!.id]);
  });

  it('a backup whose parent is already gone is kept as it is', () => {
    const c = chain('a', [0, 1, 2].map((i) => t0 + i * D));
    const broken = c.slice(1); // the full is missing from the store
    const plan = planRetention(broken, { last: 1 });
    expect(kept(plan)).toEqual([c[2]!.id, c[1]!.id]);
  });
});

describe('durations', () => {
  it('reads 30d, 12h, 2w, 1y6m and refuses the rest', () => {
    expect(parseDuration('30d')).toBe(30 * D);
    expect(parseDuration('12h')).toBe(12 * H);
    expect(parseDuration('2w')).toBe(14 * D);
    expect(parseDuration('1y6m')).toBe(365 * D + 180 * D);
    expect(parseDuration('90s')).toBe(90_000);
    for (const bad of ['', '30', 'd', '1.5d', '-3d', '0d', '3 days', '10x', '0s']) expect(() => parseDuration(bad, '--keep-within')).toThrow(/--keep-within/);
  });
});
