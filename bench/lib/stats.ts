// Pure helpers of the benchmark: medians, ratios, target checks and the table. No IO here, so
// test/unit/bench/stats.test.ts can check them.

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** min, median and max of a run kind's samples, and their spread. */
export interface Summary {
  min: number;
  median: number;
  max: number;
  /** (max - min) / median: 0.2 means the samples range over 20% of their median; 0 for one sample */
  spread: number;
}

/** The summary of `values`, or null for none. */
export function summarize(values: readonly number[]): Summary | null {
  if (values.length === 0) return null;
  const min = Math.min(...values);
  const max = Math.max(...values);
  const mid = median(values);
  return { min, median: mid, max, spread: mid > 0 ? (max - min) / mid : 0 };
}

/** Speed ratio of mqbak against a baseline on the same work: baseline time / mqbak time (>1 = mqbak faster). */
export function speedRatio(mqbakSeconds: number, baselineSeconds: number): number {
  if (!(mqbakSeconds > 0) || !(baselineSeconds > 0)) return Number.NaN;
  return baselineSeconds / mqbakSeconds;
}

/**
 * The ratio a target is judged on (baseline / mqbak, > 1: mqbak faster): of the medians of the
 * samples, never of the best ones, so one lucky sample on either side cannot meet a target.
 */
export function medianRatio(mqbakSeconds: readonly number[], baselineSeconds: readonly number[]): number | null {
  const a = summarize(mqbakSeconds);
  const b = summarize(baselineSeconds);
  return a && b ? speedRatio(a.median, b.median) : null;
}

export type TargetKind = 'at-least' | 'at-most';

export interface TargetCheck {
  id: string;
  description: string;
  kind: TargetKind;
  target: number;
  /** null when it could not be measured (command missing or failed) */
  value: number | null;
  unit: string;
  met: boolean | null;
  /** how far from the target, in % of the target: positive = margin, negative = shortfall */
  marginPercent: number | null;
  note?: string;
}

export function checkTarget(
  id: string,
  description: string,
  kind: TargetKind,
  target: number,
  value: number | null,
  unit: string,
  note?: string,
): TargetCheck {
  if (value === null || !Number.isFinite(value)) {
    return { id, description, kind, target, value: null, unit, met: null, marginPercent: null, ...(note ? { note } : {}) };
  }
  const met = kind === 'at-least' ? value >= target : value <= target;
  const marginPercent = kind === 'at-least' ? ((value - target) / target) * 100 : ((target - value) / target) * 100;
  return { id, description, kind, target, value, unit, met, marginPercent, ...(note ? { note } : {}) };
}

export function formatTarget(t: TargetCheck): string {
  if (t.met === null) return `NOT MEASURED${t.note ? ` (${t.note})` : ''}`;
  const pct = Math.abs(t.marginPercent ?? 0).toFixed(1);
  return t.met ? `met (+${pct}% margin)` : `MISSED by ${pct}%`;
}

/** Fixed-width text table; every row must have as many cells as the header. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ').trimEnd();
  const sep = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), sep, ...rows.map(line)].join('\n');
}

/** Markdown version of the same table (for docs/PERFORMANCE.md). */
export function formatMarkdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [
    `| ${header.map(esc).join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export function fmtNum(n: number | null | undefined, digits = 2): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return n.toFixed(digits);
}

export function fmtInt(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return Math.round(n).toLocaleString('en-US');
}

/** Parses --scale: "full" (1,000,000 Kafka records) or a Kafka record count, with k/m suffixes. */
export function parseScale(s: string): number {
  const t = s.trim().toLowerCase();
  if (t === 'full') return 1_000_000;
  const m = /^(\d+(?:\.\d+)?)([km]?)$/.exec(t);
  if (!m) throw new Error(`--scale ${s}: expected "full" or a record count such as 20000, 20k, 1m`);
  const n = Number(m[1]) * (m[2] === 'k' ? 1_000 : m[2] === 'm' ? 1_000_000 : 1);
  if (!Number.isSafeInteger(n) || n < 100) throw new Error(`--scale ${s}: expected at least 100 records`);
  return n;
}
