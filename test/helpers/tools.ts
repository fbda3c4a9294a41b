/**
 * The command-line tools tests spawn are installed before any test runs (tools-setup.ts, through
 * scripts/ensure-deps.sh --system): a test never skips itself for want of one. A test that is run
 * some other way and finds one missing fails here, saying which and how to get it, rather than on
 * an unexplained exit status of a command that never ran.
 */
import { spawnSync } from 'node:child_process';

const checked = new Set<string>();

export function requireTool(command: string, debianPackage = command): void {
  if (checked.has(command)) return;
  const r = spawnSync('sh', ['-c', 'command -v "$0"', command], { stdio: 'ignore' });
  if (r.status !== 0) {
    throw new Error(
      `${command} is not installed: the tests' set-up installs it (bash scripts/ensure-deps.sh --system, run by npm test and vitest); ` +
        `or install it yourself: apt-get install ${debianPackage}`,
    );
  }
  checked.add(command);
}
