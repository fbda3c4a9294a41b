/**
 * vitest globalSetup of every test project (vitest.config.ts), before global-setup.ts: the
 * command-line tools the tests spawn (kcat, lz4, zstd, promtool, the Pushgateway, nats-server,
 * python3) are installed first by scripts/ensure-deps.sh --system, the installer `npm test` and
 * .ci/run use, so that no test is skipped or fails for a missing tool on a fresh machine. It
 * says what it installs; when it cannot (no root, no apt-get, MQBAK_NO_INSTALL=1) the run stops
 * here with the command to run.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const INSTALLER = fileURLToPath(new URL('../../scripts/ensure-deps.sh', import.meta.url));

export function ensureTestTools(): void {
  const r = spawnSync('bash', [INSTALLER, '--system'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    throw new Error(`scripts/ensure-deps.sh --system (the tools the tests run) failed (${why}):\n${r.stderr.trim()}`);
  }
  // what it installed, if anything
  if (r.stderr.trim()) process.stderr.write(r.stderr);
}

export default function setup(): void {
  ensureTestTools();
}
