// Runs one command as a separate process and measures its wall time and peak RSS. Peak RSS comes
// from /usr/bin/time (getrusage of the waited children: the largest single process of a pipeline).
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  seconds: number;
  peakRssMb: number | null;
  code: number;
  stdout: string;
  stderr: string;
}

let seq = 0;

/** Runs `argv` (no shell) or, with `shell`, a bash command line (for pipelines). */
export async function measure(argv: string[], opts: { shell?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  const timeFile = join(tmpdir(), `mqbak-bench-time-${process.pid}-${seq++}`);
  const cmd = opts.shell ? ['bash', '-o', 'pipefail', '-c', argv.join(' ')] : argv;
  const child = spawn('/usr/bin/time', ['-f', '%M', '-o', timeFile, ...cmd], {
    env: opts.env ?? process.env,
    cwd: opts.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  const t0 = process.hrtime.bigint();
  const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? 1)));
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  let peakRssMb: number | null = null;
  try {
    const lines = readFileSync(timeFile, 'utf8').trim().split('\n');
    const kb = Number(lines[lines.length - 1]);
    if (Number.isFinite(kb)) peakRssMb = kb / 1024;
  } catch {
    /* no time file: the command could not start */
  }
  rmSync(timeFile, { force: true });
  return { seconds, peakRssMb, code, stdout, stderr };
}
