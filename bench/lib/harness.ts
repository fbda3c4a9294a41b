// What every scenario of `npm run bench` shares: the measures (samples of separate processes,
// their median and peak RSS), how an mqbak or worker process is started, and the results list.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, type RunResult } from './proc.js';
import { fmtNum, median, speedRatio } from './stats.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MQBAK = join(ROOT, 'bin', 'mqbak');
export const TSX = ['node', '--import', 'tsx'];
export const W = (name: string) => join(ROOT, 'bench', 'workers', name);
export const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** What the scenarios need of the command line. */
export interface ScenarioArgs {
  reps: number;
  keep: boolean;
}

export interface Measure {
  name: string;
  tool: 'mqbak' | 'baseline';
  records: number;
  bytes: number;
  samples: { seconds: number; peakRssMb: number | null }[];
  seconds: number | null;
  peakRssMb: number | null;
  error?: string;
}

export const results: Measure[] = [];
export const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

export function record(name: string, tool: Measure['tool'], records: number, bytes: number): Measure {
  const m: Measure = { name, tool, records, bytes, samples: [], seconds: null, peakRssMb: null };
  results.push(m);
  return m;
}

export function finish(m: Measure): void {
  if (m.samples.length === 0) return;
  m.seconds = median(m.samples.map((s) => s.seconds));
  const rss = m.samples.map((s) => s.peakRssMb).filter((x): x is number => x !== null);
  m.peakRssMb = rss.length ? Math.max(...rss) : null;
}

/** Runs one sample; a failure is recorded on the measure (and the measure then stays unmeasured). */
export async function sample(m: Measure, argv: string[], opts: { shell?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult | null> {
  if (m.error) return null;
  const r = await measure(argv, opts);
  if (r.code !== 0) {
    m.error = `exit ${r.code}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}`;
    log(`${m.name}: FAILED ${m.error}`);
    return null;
  }
  m.samples.push({ seconds: r.seconds, peakRssMb: r.peakRssMb });
  log(`${m.name}: ${r.seconds.toFixed(2)} s, peak RSS ${fmtNum(r.peakRssMb, 0)} MB`);
  return r;
}

export function mqbak(args: string[], profileDir?: string): string[] {
  // one folder per kind of run (backup-kafka, backup-amqp-drain, restore-amqp, ...) so profiles are findable
  const broker = args.find((x) => /^(kafka|amqps?|nats):\/\//.test(x))?.split(':')[0] ?? 'store';
  const mode = args.includes('--mode') ? `-${args[args.indexOf('--mode') + 1]}` : '';
  const dir = profileDir ? join(profileDir, `${args[0]}-${broker}${mode}`) : undefined;
  return ['node', ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), MQBAK, ...args, '-q'];
}

export function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).size;
  }
  return n;
}

export function find(name: string): Measure | undefined {
  return results.find((m) => m.name === name);
}

export function ratioOf(mq: string, base: string): number | null {
  const a = find(mq)?.seconds;
  const b = find(base)?.seconds;
  if (a == null || b == null) return null;
  return speedRatio(a, b);
}
