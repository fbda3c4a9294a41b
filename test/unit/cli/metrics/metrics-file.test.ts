import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkMetricsFile, previousLastSuccess, writeMetricsFile } from '../../../../src/cli/metrics/metrics-file.js';
import { formatMetrics } from '../../../../src/cli/metrics/prometheus-text.js';
import { runMetrics } from '../../../../src/cli/metrics/run-metrics.js';

describe('metrics file', () => {
  it('is replaced whole, leaves no temporary file, and gives back the last success time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-metrics-'));
    const path = join(dir, 'mqbak.prom');
    const labels = { store: '/backups' };
    await checkMetricsFile(path);
    await writeMetricsFile(path, formatMetrics(runMetrics({ command: 'backup', startedAt: 0, endedAt: 42_000, exitStatus: 0 }, labels, null)));
    expect(await previousLastSuccess(path, { ...labels, command: 'backup' })).toBe(42);
    expect(await previousLastSuccess(path, { ...labels, command: 'restore' })).toBeNull();
    await writeMetricsFile(path, 'mqbak_x 1\n');
    expect(await readFile(path, 'utf8')).toBe('mqbak_x 1\n');
    expect(await readdir(dir)).toEqual(['mqbak.prom']);
    expect(await previousLastSuccess(join(dir, 'absent.prom'), labels)).toBeNull();
  });

  it('a path that cannot be written is refused before any work', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-metrics-'));
    await expect(checkMetricsFile(join(dir, 'no-such-folder', 'm.prom'))).rejects.toMatchObject({ code: 'usage' });
    await mkdir(join(dir, 'a-folder'));
    await expect(checkMetricsFile(join(dir, 'a-folder'))).rejects.toThrow(/is a folder/);
    await writeFile(join(dir, 'a-file'), '');
    await expect(checkMetricsFile(join(dir, 'a-file', 'm.prom'))).rejects.toThrow(/not a folder/);
    if (process.getuid?.() !== 0) {
      // root writes anywhere: the read-only case only means something for other users
      await chmod(dir, 0o500);
      await expect(checkMetricsFile(join(dir, 'm.prom'))).rejects.toThrow(/cannot write/);
    }
  });
});
