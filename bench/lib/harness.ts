// What every scenario of `npm run bench` shares: the measures (samples of separate processes:
// their min, median and max, peak RSS and the broker's CPU time), how an mqbak or worker process
// is started, and the results list.
import { readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, type RunResult } from './proc.js';
import { brokerPidsOfArgv, cpuSeconds } from './broker-cpu.js';
import { fmtNum, median, medianRatio, summarize } from './stats.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MQBAK = join(ROOT, 'bin', 'mqbak');
export const TSX = ['node', '--import', 'tsx'];
export const W = (name: string) => join(ROOT, 'bench', 'workers', name);
export const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

/** What the scenarios need of the command line. */
export interface ScenarioArgs {
  /** base number of rounds (bench/lib/reps.ts) */
  reps: number;
  keep: boolean;
}

export interface Sample {
  seconds: number;
  peakRssMb: number | null;
  /** CPU seconds (user + system) the broker used while this sample ran; null when not known */
  brokerCpuSeconds: number | null;
}

export interface Measure {
  name: string;
  tool: 'mqbak' | 'baseline';
  records: number;
  bytes: number;
  samples: Sample[];
  /** the median of the samples' wall times: every rate and ratio uses it */
  seconds: number | null;
  min: number | null;
  max: number | null;
  /** (max - min) / median */
  spread: number | null;
  peakRssMb: number | null;
  /** median of the samples' broker CPU seconds */
  brokerCpuSeconds: number | null;
  error?: string;
}

export const results: Measure[] = [];
export const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

export function record(name: string, tool: Measure['tool'], records: number, bytes: number): Measure {
  const m: Measure = { name, tool, records, bytes, samples: [], seconds: null, min: null, max: null, spread: null, peakRssMb: null, brokerCpuSeconds: null };
  results.push(m);
  return m;
}

export function finish(m: Measure): void {
  const sum = summarize(m.samples.map((s) => s.seconds));
  if (!sum) return;
  m.seconds = sum.median;
  m.min = sum.min;
  m.max = sum.max;
  m.spread = sum.spread;
  const cpu = m.samples.map((s) => s.brokerCpuSeconds).filter((x): x is number => x !== null);
  m.brokerCpuSeconds = cpu.length ? median(cpu) : null;
  const rss = m.samples.map((s) => s.peakRssMb).filter((x): x is number => x !== null);
  m.peakRssMb = rss.length ? Math.max(...rss) : null;
}

/**
 * Runs one sample; a failure is recorded on the measure (and the measure then stays unmeasured).
 * `broker`: the broker's pids, whose CPU time is read before and after; by default those listening
 * on the port of the first broker URL in `argv` (none for a command line without one).
 */
export async function sample(m: Measure, argv: string[], opts: { shell?: boolean; env?: NodeJS.ProcessEnv; broker?: readonly number[] } = {}): Promise<RunResult | null> {
  if (m.error) return null;
  const pids = opts.broker ?? brokerPidsOfArgv(argv);
  const cpu0 = cpuSeconds(pids);
  const r = await measure(argv, opts);
  const cpu1 = cpuSeconds(pids);
  if (r.code !== 0) {
    m.error = `exit ${r.code}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}`;
    log(`${m.name}: FAILED ${m.error}`);
    return null;
  }
  const brokerCpuSeconds = cpu0 !== null && cpu1 !== null ? cpu1 - cpu0 : null;
  m.samples.push({ seconds: r.seconds, peakRssMb: r.peakRssMb, brokerCpuSeconds });
  log(`${m.name}: ${r.seconds.toFixed(2)} s, peak RSS ${fmtNum(r.peakRssMb, 0)} MB${brokerCpuSeconds === null ? '' : `, broker CPU ${brokerCpuSeconds.toFixed(2)} s`}`);
  return r;
}

export function mqbak(args: string[], profileDir?: string): string[] {
  // one folder per kind of run (backup-kafka, backup-amqp-drain, restore-amqp, ...) so profiles are findable
  const broker = args.find((x) => /^(kafka|amqps?|nats):\/\//.test(x))?.split(':')[0] ?? 'store';
  const mode = args.includes('--mode') ? `-${args[args.indexOf('--mode') + 1]}` : '';
  const dir = profileDir ? join(profileDir, `${args[0]}-${broker}${mode}`) : undefined;
  // the executable itself, as a user runs it (its first lines give node options of their own);
  // a profiled run through node (Node 20 takes --cpu-prof on the command line only), so with
  // V8's default young generation
  return [...(dir ? ['node', '--cpu-prof', `--cpu-prof-dir=${dir}`] : []), MQBAK, ...args, '-q'];
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

/** The ratio of the medians (baseline / mqbak; > 1: mqbak faster): what every target is judged on. */
export function ratioOf(mq: string, base: string): number | null {
  const a = find(mq);
  const b = find(base);
  if (!a || !b) return null;
  return medianRatio(a.samples.map((s) => s.seconds), b.samples.map((s) => s.seconds));
}
