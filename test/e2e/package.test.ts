// The package as users install it: `npm pack` of the built checkout (npm run build first), then
// `npm install -g --prefix <tmp>` of the tarball, as a user installs a CLI (dependencies from the
// registry or npm's cache: this test needs either). The installed `mqbak` shows its help, backs a
// RabbitMQ queue up into a folder and restores it, with the native zstd binding (zstd-napi, an
// optional dependency built by node-gyp) and without it (as when its build fails and npm leaves
// it out).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeProblems, helpProblems } from '../helpers/help-lint.js';
import { declare, env as rabbitEnv, readQueue, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const INSTALL_TIMEOUT_MS = 20 * 60_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: { ...process.env, CI: 'true', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

let work = '';
let tarball = '';
let prefix = '';
let packed: string[] = [];
const mqbak = (args: string[], env: NodeJS.ProcessEnv = {}) => run(path.join(prefix, 'bin', 'mqbak'), args, { env: { ...rabbitEnv, ...env }, cwd: work });

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), 'mqbak-package-'));
  // the e2e tests run after npm run build: pack what was built, without building again
  const pack = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: ROOT });
  expect(pack.code, pack.stderr).toBe(0);
  const info = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  tarball = path.join(work, info[0]!.filename);
  packed = info[0]!.files.map((f) => f.path);
  prefix = path.join(work, 'prefix');
  const install = await run('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], {
    cwd: work,
    timeoutMs: INSTALL_TIMEOUT_MS,
  });
  expect(install.code, `npm install -g of the packed tarball failed:\n${install.stderr}`).toBe(0);
}, INSTALL_TIMEOUT_MS + 60_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('ships the built code, the executable, the docs and the README, and nothing else', () => {
    expect(packed).toEqual(expect.arrayContaining(['package.json', 'README.md', 'bin/mqbak', 'dist/cli/main.js', 'docs/FORMAT.md', 'docs/JSON.md', 'docs/RUNBOOKS.md', 'docs/examples/systemd/mqbak-backup.service']));
    const unexpected = packed.filter((f) => !/^(package\.json|README\.md|LICENSE|bin\/mqbak|dist\/.*\.js|docs\/[^/]+\.md|docs\/examples\/.+)$/.test(f));
    expect(unexpected).toEqual([]);
  });

  it('installs an mqbak whose --help of every command has no ragged or over-wide line', { timeout: 300_000 }, async () => {
    const root = await mqbak(['--help'], { COLUMNS: '80' });
    expect(root.code, root.stderr).toBe(0);
    expect(root.stdout).toMatch(/^Usage: mqbak /);
    const commands = [...root.stdout.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]!).filter((c) => c !== 'help');
    expect(commands).toEqual(expect.arrayContaining(['backup', 'restore', 'verify', 'list', 'key']));
    for (const c of [[], ...commands.map((c) => [c]), ['key', 'init'], ['key', 'list']]) {
      const r = await mqbak([...c, '--help'], { COLUMNS: '80' });
      expect(r.code, r.stderr).toBe(0);
      expect(describeProblems(`mqbak ${c.join(' ')} --help`, helpProblems(r.stdout, 80))).toBe('');
    }
  });

  describe('backs up and restores a RabbitMQ queue into a folder', () => {
    const { newVhost, newStore } = useRabbitE2e();
    const binding = () => path.join(prefix, 'lib', 'node_modules', 'mqbak', 'node_modules', 'zstd-napi');

    /** Backs 50 messages up and restores them into another queue; returns the vhost's URL and the store. */
    async function roundTrip(zstd: Record<string, string>, tag: string): Promise<{ url: string; store: string }> {
      const { url, conn } = await newVhost(`package-${tag}`);
      const store = await newStore();
      await declare(conn, 'jobs');
      await declare(conn, 'jobs-copy');
      const ch = await conn.model.createConfirmChannel();
      for (let i = 0; i < 50; i++) ch.sendToQueue('jobs', Buffer.from(`job ${i} ${'x'.repeat(i * 10)}`), { messageId: `m${i}` });
      await ch.waitForConfirms();
      await ch.close();
      const backup = await mqbak(['backup', url, store, '--queues', 'jobs', '--json'], zstd);
      expect(backup.code, backup.stderr).toBe(0);
      expect((JSON.parse(backup.stdout) as { records: number }).records).toBe(50);
      const restore = await mqbak(['restore', store, url, '--map', 'jobs=jobs-copy', '--json'], zstd);
      expect(restore.code, restore.stderr).toBe(0);
      expect((JSON.parse(restore.stdout) as { restored: number }).restored).toBe(50);
      const copy = await readQueue(conn, 'jobs-copy', true);
      expect(copy.map((m) => m.content.toString())).toEqual(Array.from({ length: 50 }, (_, i) => `job ${i} ${'x'.repeat(i * 10)}`));
      expect(copy.map((m) => m.properties.messageId)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
      return { url, store };
    }

    it('with the native zstd binding, which npm built', { timeout: 180_000 }, async () => {
      expect(existsSync(path.join(binding(), 'package.json'))).toBe(true);
      await roundTrip({ MQBAK_ZSTD: 'native' }, 'native');
    });

    it('without the native zstd binding: zstd-codec does the work', { timeout: 180_000 }, async () => {
      const version = JSON.parse(await readFile(path.join(binding(), 'package.json'), 'utf8')) as { version: string };
      expect(version.version).toMatch(/^\d/);
      await rm(binding(), { recursive: true, force: true });
      const { url, store } = await roundTrip({}, 'wasm');
      // the binding is really gone: asking for it is refused with exit 2 before any work, by a
      // backup and by a read alike (a read once took the failure for a damaged segment: exit 4)
      for (const args of [['backup', url, await newStore(), '--queues', 'jobs'], ['verify', store]]) {
        const refused = await mqbak(args, { MQBAK_ZSTD: 'native' });
        expect(refused.code, refused.stderr).toBe(2);
        expect(refused.stderr).toMatch(/^mqbak: error: MQBAK_ZSTD=native: the native zstd binding \(zstd-napi\) does not load/m);
      }
    });
  });
});
