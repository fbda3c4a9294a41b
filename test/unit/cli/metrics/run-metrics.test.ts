import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runMetrics } from '../../../../src/cli/metrics/run-metrics.js';
import { FINDING_KINDS } from '../../../../src/core/verify.js';

const doc = readFileSync(new URL('../../../../docs/METRICS.md', import.meta.url), 'utf8');

describe('run metrics', () => {
  const all = runMetrics(
    {
      command: 'backup',
      startedAt: 1_000_000,
      endedAt: 1_004_500,
      exitStatus: 0,
      records: 7,
      rawBytes: 700,
      storedBytes: 300,
      chainLength: 2,
      streams: [{ stream: 'kafka/orders/0', records: 7, lastPosition: '41' }],
      findings: { 'sha-mismatch': 1 },
      deleted: { objects: 3, bytes: 30 },
      forgotten: { removed: 1, kept: 4 },
    },
    { store: '/backups' },
    null,
  );

  it('docs/METRICS.md names every metric and every verify finding kind mqbak reports', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const m of all) expect(doc, m.name).toContain(`\`${m.name}`);
    for (const k of FINDING_KINDS) expect(doc, k).toContain(`\`${k}\``);
  });

  it('a failed run keeps the previous success time and reports its own exit status', () => {
    const failed = runMetrics({ command: 'verify', startedAt: 0, endedAt: 2000, exitStatus: 4 }, { store: 's3://b/p' }, 1234);
    const value = (name: string) => failed.find((m) => m.name === name)?.samples[0];
    expect(value('mqbak_last_success_timestamp_seconds')).toEqual({ labels: { store: 's3://b/p', command: 'verify' }, value: 1234 });
    expect(value('mqbak_last_run_exit_status')?.value).toBe(4);
    expect(value('mqbak_last_run_duration_seconds')?.value).toBe(2);
    // what does not apply has no sample
    expect(failed.find((m) => m.name === 'mqbak_last_run_records')?.samples).toEqual([]);
  });
});
