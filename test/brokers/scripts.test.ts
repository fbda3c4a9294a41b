/**
 * The scripts that start the test brokers, the demo and the installer never fail in silence
 * (issue 14: `npm run demo` on a fresh clone once exited 2 right after "== starting local
 * brokers", printing nothing else). Each case breaks the machine in one way (a command that
 * fails, a port in use, a tool that is missing) and checks that the script says what failed
 * and what to do. The scripts run with their state in a folder of the test's own.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const work = mkdtempSync(path.join(os.tmpdir(), 'mqbak-scripts-'));
afterAll(() => {
  // a broker a case may have started in its own state folder
  for (const script of ['kafka-mock.sh', 'nats.sh']) {
    spawnSync('bash', [path.join(ROOT, 'test/brokers', script), 'stop', path.join(work, 'run', 'mqbak', 'run')], { stdio: 'ignore' });
  }
  rmSync(work, { recursive: true, force: true });
});

/**
 * A folder holding a stand-in for `command` that exits with `status` when its arguments contain
 * `when`, and otherwise runs the real one (so that nothing else the script runs, such as an npm
 * ci, is broken by it).
 */
function failingCommand(name: string, command: string, when: string, status: number): string {
  const real = spawnSync('sh', ['-c', 'command -v "$0"', command], { encoding: 'utf8' }).stdout.trim();
  expect(real).not.toBe('');
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  const f = path.join(dir, command);
  writeFileSync(f, `#!/bin/sh\ncase "$*" in *'${when}'*) exit ${status} ;; esac\nexec '${real}' "$@"\n`);
  chmodSync(f, 0o755);
  return dir;
}

/** A folder of links to every command on PATH except `hidden`: a PATH of a machine without them. */
function pathWithout(name: string, hidden: string[]): string {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (!d || !existsSync(d)) continue;
    for (const e of readdirSync(d)) {
      if (hidden.includes(e) || existsSync(path.join(dir, e))) continue;
      symlinkSync(path.join(d, e), path.join(dir, e));
    }
  }
  return dir;
}

/** Pids of the processes whose stdout is `file`. */
function processesWritingTo(file: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/fd/1`) === file) out.push(Number(e));
    } catch {
      // gone, or not ours to look at
    }
  }
  return out;
}

function run(script: string, args: string[], env: NodeJS.ProcessEnv): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', [path.join(ROOT, script), ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the broker scripts and the demo say what failed', () => {
  it('npm run demo, when a command inside the Kafka broker start fails (sed exiting 2): names the command, the line and the broker, and stops the half-started broker', () => {
    // sed exiting 2 is what a sed on a log file not yet created did: set -e turned it into a
    // silent exit 2 of kafka-mock.sh, and so of the demo
    const bin = failingCommand('sed-fails', 'sed', 'BOOTSTRAP', 2);
    const runtime = path.join(work, 'run'); // the broker's state folder, away from anyone's running broker
    const r = run('scripts/demo.sh', [], { PATH: `${bin}:${process.env.PATH}`, XDG_RUNTIME_DIR: runtime });
    expect(r.stdout).toMatch(/== starting local brokers/);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/^kafka-mock\.sh: error: failed with exit status 2 at kafka-mock\.sh:\d+ \(in cmd_start\): boot=\$\(server_wait_ready /m);
    expect(r.stderr).toMatch(/^kafka-mock\.sh: the command that failed in it: exit status 2 at kafka-mock\.sh:\d+ \(in bootstrap_line\): sed -n 's\/\^BOOTSTRAP /m);
    expect(r.stderr).toMatch(/^demo\.sh: error: the Kafka test broker could not be started \(why is above\); run bash test\/brokers\/kafka-mock\.sh start alone to retry$/m);
    // the mockd it had launched (its output goes to the log in the state folder) was stopped,
    // not left running without a pid file
    const log = path.join(runtime, 'mqbak', 'run', 'kafka-mock.log');
    expect(existsSync(log)).toBe(true);
    expect(processesWritingTo(log)).toEqual([]);
  }, 300_000);

  it('nats.sh start on a port that is in use: says which port, which variable chose it and what to do', async () => {
    const busy = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => busy.once('listening', resolve));
    try {
      const port = (busy.address() as net.AddressInfo).port;
      const r = run('test/brokers/nats.sh', ['start', path.join(work, 'nats-state')], { MQBAK_NATS_PORT: String(port) });
      expect(r.status).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(
        new RegExp(`^nats\\.sh: error: port ${port} of 127\\.0\\.0\\.1 \\(MQBAK_NATS_PORT\\) is in use by another program.*: stop it, choose another port, or unset MQBAK_NATS_PORT`, 'm'),
      );
    } finally {
      busy.close();
    }
  });

  it('the installer on a machine without kcat, lz4 and zstd that may not install: names the packages and the command to run', () => {
    const bare = pathWithout('no-tools', ['kcat', 'lz4', 'zstd']);
    const r = run('scripts/ensure-deps.sh', ['--system'], { PATH: bare, MQBAK_NO_INSTALL: '1' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(
      'ensure-deps.sh: error: running the tests needs the Debian package(s) kcat lz4 zstd, which are not installed (MQBAK_NO_INSTALL=1: installing nothing); run: sudo apt-get install kcat lz4 zstd',
    );
  });
});
