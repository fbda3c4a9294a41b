/**
 * The retention policy of `mqbak forget`: which backups a policy keeps, pure (docs/RETENTION.md).
 *
 * The policy applies to each chain group (backups with the same chain key: same source, same
 * streams, same mode) on its own, as restic applies its policy per host and paths. Within a group
 * the rules walk the backups newest first. keep-last N keeps the N newest. keep-hourly N (daily,
 * weekly, monthly, yearly) keeps the newest backup of each of the N most recent hours (days...)
 * that have a backup; calendar buckets are taken in UTC so that the same store gives the same
 * answer on every host. keep-within D keeps every backup made within D before the group's newest
 * backup (not before now: a cron job that stopped running does not make forget drop everything).
 * keep-id keeps the named backups.
 *
 * Then the rule that makes a policy safe for incrementals: a kept backup keeps every ancestor
 * it needs to be restored, whatever the rules said of them. A backup whose parent is missing
 * from the store (an already broken chain) is kept as it is; forget never repairs or deepens
 * damage.
 */
import { MqbakError } from '../common/errors.js';

export interface RetentionPolicy {
  last?: number;
  hourly?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
  yearly?: number;
  /** How long before the group's newest backup (as the user wrote it, and in ms). */
  within?: { text: string; ms: number };
  /** Backup ids kept whatever else the policy says. */
  ids?: readonly string[];
}

export interface RetentionBackup {
  id: string;
  /** When the backup started (ms since the epoch). */
  time: number;
  chainKey: string;
  /** The parent's id; null for a full backup. */
  parent: string | null;
}

export interface KeptBackup {
  id: string;
  /** Why it is kept: 'last', 'daily 2026-12-01', 'within 30d', 'id', 'ancestor of <id>'... */
  reasons: string[];
}

export interface GroupPlan {
  chainKey: string;
  /** Newest first. */
  keep: KeptBackup[];
  /** Newest first. */
  remove: string[];
}

/** True when the policy names at least one rule (forget refuses an empty policy). */
export function hasRules(p: RetentionPolicy): boolean {
  return (
    [p.last, p.hourly, p.daily, p.weekly, p.monthly, p.yearly, p.within].some((v) => v !== undefined) ||
    (p.ids !== undefined && p.ids.length > 0)
  );
}

type Bucket = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';
const BUCKETS: readonly Bucket[] = ['hourly', 'daily', 'weekly', 'monthly', 'yearly'];

/** The calendar bucket of a time in UTC, as text that also reads well in a reason. */
export function bucketOf(kind: Bucket, time: number): string {
  const d = new Date(time);
  const iso = d.toISOString();
  switch (kind) {
    case 'hourly':
      return `${iso.slice(0, 13)}h`;
    case 'daily':
      return iso.slice(0, 10);
    case 'weekly':
      return isoWeek(d);
    case 'monthly':
      return iso.slice(0, 7);
    case 'yearly':
      return iso.slice(0, 4);
  }
}

/** ISO 8601 week, e.g. 2026-W49 (weeks start on Monday; week 1 holds the year's first Thursday). */
function isoWeek(d: Date): string {
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  const thursday = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3));
  const year = thursday.getUTCFullYear();
  const firstThursday = new Date(Date.UTC(year, 0, 4));
  const firstMonday = firstThursday.getTime() - ((firstThursday.getUTCDay() + 6) % 7) * 86_400_000;
  const week = 1 + Math.floor((thursday.getTime() - 3 * 86_400_000 - firstMonday) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** Applies the policy to every chain group; groups in the order of their newest backup, newest first. */
export function planRetention(backups: readonly RetentionBackup[], policy: RetentionPolicy): GroupPlan[] {
  if (!hasRules(policy)) throw new MqbakError('usage', 'no retention rule given: forget would keep nothing', { hint: 'name at least one --keep-* option' });
  for (const [name, v] of Object.entries(policy)) {
    if (typeof v === 'number' && !(Number.isSafeInteger(v) && v >= 0)) throw new MqbakError('usage', `keep ${name} ${v}: expected a whole number of at least 0`);
  }
  const byId = new Map(backups.map((b) => [b.id, b]));
  const groups = new Map<string, RetentionBackup[]>();
  for (const b of backups) groups.set(b.chainKey, [...(groups.get(b.chainKey) ?? []), b]);
  const plans: GroupPlan[] = [];
  for (const [chainKey, members] of groups) {
    const newestFirst = [...members].sort((a, b) => b.time - a.time || (a.id < b.id ? 1 : -1));
    const reasons = new Map<string, string[]>();
    const keep = (id: string, why: string) => reasons.set(id, [...(reasons.get(id) ?? []), why]);
    newestFirst.slice(0, policy.last ?? 0).forEach((b) => keep(b.id, 'last'));
    for (const kind of BUCKETS) {
      let left = policy[kind] ?? 0;
      let previous: string | null = null;
      for (const b of newestFirst) {
        if (left <= 0) break;
        const bucket = bucketOf(kind, b.time);
        if (bucket === previous) continue;
        previous = bucket;
        keep(b.id, `${kind} ${bucket}`);
        left--;
      }
    }
    if (policy.within !== undefined && newestFirst.length > 0) {
      const since = newestFirst[0]!.time - policy.within.ms;
      for (const b of newestFirst) if (b.time >= since) keep(b.id, `within ${policy.within.text}`);
    }
    for (const id of policy.ids ?? []) if (byId.get(id)?.chainKey === chainKey) keep(id, 'id');
    // every kept backup keeps the chain it is restored from
    for (const id of [...reasons.keys()]) {
      let parent = byId.get(id)?.parent ?? null;
      while (parent !== null && byId.has(parent)) {
        keep(parent, `ancestor of ${id}`);
        parent = byId.get(parent)!.parent;
      }
    }
    plans.push({
      chainKey,
      keep: newestFirst.filter((b) => reasons.has(b.id)).map((b) => ({ id: b.id, reasons: dedupe(reasons.get(b.id)!) })),
      remove: newestFirst.filter((b) => !reasons.has(b.id)).map((b) => b.id),
    });
  }
  const newest = (p: GroupPlan) => [...p.keep.map((k) => k.id), ...p.remove].sort().pop() ?? '';
  return plans.sort((a, b) => (newest(a) < newest(b) ? 1 : -1));
}

function dedupe(list: string[]): string[] {
  return [...new Set(list)];
}

const UNIT_MS: Record<string, number> = { y: 365 * 86_400_000, m: 30 * 86_400_000, w: 7 * 86_400_000, d: 86_400_000, h: 3_600_000, s: 1000 };

/**
 * A duration like 30d, 12h, 2w, 1y6m (y years of 365 days, m months of 30 days, w weeks, d days,
 * h hours, s seconds) in milliseconds.
 */
export function parseDuration(text: string, option = 'duration'): number {
  const s = text.trim();
  if (!/^(\d+[ymwdhs])+$/.test(s)) throw new MqbakError('usage', `${option} ${JSON.stringify(text)}: expected a duration like 30d, 12h, 2w or 1y6m`);
  let ms = 0;
  for (const m of s.matchAll(/(\d+)([ymwdhs])/g)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new MqbakError('usage', `${option} ${JSON.stringify(text)}: expected a duration above zero`);
  return ms;
}
