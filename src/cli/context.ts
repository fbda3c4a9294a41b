import type { Command } from 'commander';
import type { Progress, ProgressCounts } from '../common/progress.js';
import type { RunDetails } from './metrics/run-report.js';
import { jsonProgress, type ProgressMode } from './progress-json.js';

/**
 * What a command needs from the outside world. Commands write results to `out` (stdout: data
 * only) and everything else through `progress` or `err` (stderr).
 */
export interface CliContext {
  out: (text: string) => void;
  err: (text: string) => void;
  progress: Progress;
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  debug: boolean;
  quiet: boolean;
  /** What the command tells monitoring about its run (--metrics-file, --pushgateway). */
  details: RunDetails;
  /** Whether the run's metrics go anywhere: details that cost I/O are gathered only then. */
  metered: boolean;
}

/** What runs a command: its arguments and options in, its exit status out. */
export type CommandRunner = (ctx: CliContext, args: string[], options: Record<string, unknown>) => Promise<number>;

/** main.ts's commander action for a command whose runner is loaded when it runs. */
export type CommandAction = (name: string, load: () => Promise<CommandRunner>) => (this: Command, ...all: unknown[]) => Promise<void>;

/**
 * Progress on stderr: a spinner (ora) only on a real terminal outside CI, otherwise plain lines
 * at most every few seconds. Without a terminal ora prints once and drops every update, and on a
 * terminal that reports 0 columns it never stops writing escape codes.
 */
export async function createProgress(options: {
  quiet: boolean;
  stream?: NodeJS.WriteStream;
  env?: NodeJS.ProcessEnv;
  intervalMs?: number;
  /** --progress: json lines (progress-json.ts), plain lines even on a terminal, or auto. */
  mode?: ProgressMode;
}): Promise<Progress & { stop(): void }> {
  const stream = options.stream ?? process.stderr;
  const env = options.env ?? process.env;
  if (options.quiet) {
    return {
      phase() {},
      update() {},
      info() {},
      warn(message) {
        stream.write(`mqbak: warning: ${message}\n`);
      },
      stop() {},
    };
  }
  if (options.mode === 'json') return jsonProgress({ stream });
  const interactive = options.mode !== 'plain' && Boolean(stream.isTTY) && (stream.columns ?? 0) > 0 && !env.CI;
  const intervalMs = options.intervalMs ?? 5000;
  let phase = '';
  let last: ProgressCounts | undefined;
  let lastPrinted = 0;
  const describe = (c: ProgressCounts): string => {
    const parts = [`${formatCount(c.records)}${c.total !== undefined ? `/${formatCount(c.total)}` : ''} records`];
    if (c.bytes !== undefined) parts.push(formatBytes(c.bytes));
    return `${c.stream ?? phase}: ${parts.join(', ')}`;
  };
  if (interactive) {
    const { default: ora } = await import('ora');
    const spinner = ora({ stream, discardStdin: false });
    return {
      phase(message) {
        phase = message;
        if (!spinner.isSpinning) spinner.start(message);
        else spinner.text = message;
      },
      update(counts) {
        last = counts;
        spinner.text = describe(counts);
        if (!spinner.isSpinning) spinner.start();
      },
      info(message) {
        spinner.info(message);
      },
      warn(message) {
        spinner.warn(`warning: ${message}`);
      },
      stop() {
        if (spinner.isSpinning) spinner.stop();
      },
    };
  }
  return {
    phase(message) {
      phase = message;
      stream.write(`mqbak: ${message}\n`);
      lastPrinted = Date.now();
    },
    update(counts) {
      last = counts;
      const now = Date.now();
      if (now - lastPrinted >= intervalMs) {
        lastPrinted = now;
        stream.write(`mqbak: ${describe(counts)}\n`);
      }
    },
    info(message) {
      stream.write(`mqbak: ${message}\n`);
    },
    warn(message) {
      stream.write(`mqbak: warning: ${message}\n`);
    },
    stop() {
      void last;
    },
  };
}

/**
 * A count as toLocaleString('en-US') writes it (200,000). Counts (whole, not negative) are grouped here: the
 * first toLocaleString of a process loads ICU's number formats, 25-75 ms of a short command's run.
 */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0 || Object.is(n, -0)) return n.toLocaleString('en-US');
  const digits = String(n);
  let out = digits.slice(0, ((digits.length - 1) % 3) + 1);
  for (let i = out.length; i < digits.length; i += 3) out += `,${digits.slice(i, i + 3)}`;
  return out;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
