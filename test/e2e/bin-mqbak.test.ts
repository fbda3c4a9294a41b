/**
 * bin/mqbak run as an executable, as an installed mqbak is (the other e2e tests run it with
 * `node bin/mqbak`): its first lines make sh start node with V8's young generation held small
 * (--max-semi-space-size), by exec, so the process a user or a service manager signals is node
 * itself, and mqbak's own SIGINT handling answers it. It also sets glibc's allocator settings
 * (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_) unless the environment already has them.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { MQBAK_BIN } from '../helpers/run-mqbak.js';
import { sleep, until } from '../helpers/kafka-faults.js';
import { useTempDirs } from '../helpers/kafka-e2e.js';

const tempDir = useTempDirs();

// a broker that takes connections and never answers: mqbak waits there until it is signalled
const held: net.Socket[] = [];
const silent = net.createServer((s) => held.push(s.on('error', () => {})));
afterAll(async () => {
  for (const s of held) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe('bin/mqbak as an executable', () => {
  it('prints the version', async () => {
    const child = spawn(MQBAK_BIN, ['--version'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code).toBe(0);
    expect(out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it.runIf(existsSync('/proc/self/cmdline'))('is node with a small young generation, and a SIGINT to it ends the command with exit 130', async () => {
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    // one allocator setting given by the user (kept), the other left to bin/mqbak
    const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', MALLOC_ARENA_MAX: '5' };
    delete env.MALLOC_MMAP_THRESHOLD_;
    const child = spawn(MQBAK_BIN, ['backup', `kafka://127.0.0.1:${port}`, await tempDir(), '--topics', 't'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      expect(await until(() => held.length > 0, 30_000), `mqbak never reached the port: ${stderr}`).toBe(true);
      await sleep(300);
      // the pid spawned is node's: the shell exec'd it instead of waiting for it
      const argv = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      expect(argv[0]).toMatch(/node/);
      expect(argv).toContain('--max-semi-space-size=4');
      expect(argv).toContain(MQBAK_BIN);
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'utf8').split('\0');
      expect(environ).toContain('MALLOC_ARENA_MAX=5');
      expect(environ).toContain('MALLOC_MMAP_THRESHOLD_=262144');
      child.kill('SIGINT');
      const code = await Promise.race([closed, sleep(10_000).then(() => 'still running' as const)]);
      expect(code).toBe(130);
      expect(stderr).toMatch(/interrupted/);
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);
});
