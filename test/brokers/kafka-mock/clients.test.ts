/**
 * Proves the Kafka test broker against clients other than kafkajs: every version of the APIs it
 * advertises decodes to its last byte (check-versions.py, admin-check.c with librdkafka's admin
 * client), and kcat (librdkafka) still produces and consumes.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, uniqueName } from '../../helpers/brokers.js';
import { kafka } from './helpers.js';
import { requireTool } from '../../helpers/tools.js';

const MOCK_DIR = fileURLToPath(new URL('./', import.meta.url));
// the harness's own mock (it sets the control port) was built by kafka-mock.sh: its librdkafka
// headers and library are in the build cache; against another broker there is nothing to link
const ownMock = Boolean(process.env.MQBAK_TEST_KAFKA_CONTROL);

describe('Kafka test broker: every advertised version, and librdkafka as a second client', () => {
  // python3 and kcat are installed by the tests' set-up (scripts/ensure-deps.sh): never skipped
  it('each version of the added APIs decodes to its last byte (check-versions.py)', () => {
    requireTool('python3');
    const r = spawnSync('python3', [path.join(MOCK_DIR, 'check-versions.py'), kafkaBrokers()[0] ?? ''], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^all ok$/m);
  });

  it.skipIf(!ownMock)("librdkafka's admin client (flexible versions) gets Kafka's answers (admin-check.c)", () => {
    const build = spawnSync('bash', [path.join(MOCK_DIR, '..', 'kafka-mock.sh'), 'build'], { encoding: 'utf8', timeout: 600_000 });
    expect(build.status, build.stderr).toBe(0);
    const dir = path.dirname(build.stdout.trim().split('\n').pop() ?? '');
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'mqbak-admin-check-'));
    try {
      const bin = path.join(tmp, 'admin-check');
      const cc = spawnSync(
        'gcc',
        ['-O2', `-I${dir}/rdk/include`, '-o', bin, path.join(MOCK_DIR, 'admin-check.c'), `-L${dir}/rdk/lib`, `-Wl,-rpath,${dir}/rdk/lib`, '-lrdkafka'],
        { encoding: 'utf8' },
      );
      expect(cc.status, cc.stderr).toBe(0);
      const r = spawnSync(bin, [kafkaBrokers().join(','), uniqueName('admin-check')], { encoding: 'utf8', timeout: 120_000 });
      expect(r.stdout.trim(), r.stderr).toBe('ok');
      expect(r.status).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('Kafka test broker: kcat (librdkafka) still works', () => {
  it('kcat -P produces and kcat -C -e consumes the same keyed records', async () => {
    requireTool('kcat');
    const topic = uniqueName('admin-kcat');
    const broker = kafkaBrokers().join(',');
    const lines = Array.from({ length: 50 }, (_, i) => `k${i}:value ${i} ${'x'.repeat(i)}`);

    const produced = await new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn('kcat', ['-b', broker, '-t', topic, '-P', '-K:', '-p', '0'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stderr }));
      child.stdin.end(`${lines.join('\n')}\n`);
    });
    expect(produced.code, produced.stderr).toBe(0);

    const consumed = spawnSync('kcat', ['-b', broker, '-t', topic, '-C', '-e', '-o', 'beginning', '-f', '%p %o %k:%s\n'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(consumed.status, consumed.stderr).toBe(0);
    const got = consumed.stdout.split('\n').filter((l) => l !== '');
    expect(got).toEqual(lines.map((l, i) => `0 ${i} ${l}`));
  });
});
