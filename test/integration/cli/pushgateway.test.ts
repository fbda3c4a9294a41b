import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePushgatewayUrl, pushMetrics } from '../../../src/cli/metrics/pushgateway.js';
import { formatMetrics } from '../../../src/cli/metrics/prometheus-text.js';
import { runMetrics } from '../../../src/cli/metrics/run-metrics.js';

const SCRIPT = fileURLToPath(new URL('../../brokers/pushgateway.sh', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'mqbak-pushgateway-'));
let url = '';

beforeAll(() => {
  const r = spawnSync('bash', [SCRIPT, 'start', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pushgateway.sh start failed: ${r.stderr}`);
  url = r.stdout.trim();
});
afterAll(() => {
  spawnSync('bash', [SCRIPT, 'stop', dir]);
});

interface PushedGroup {
  labels: Record<string, string>;
  [metric: string]: unknown;
}

/** The groups the Pushgateway holds, from its HTTP API. */
async function groups(): Promise<PushedGroup[]> {
  const res = await fetch(`${url}/api/v1/metrics`);
  const body = (await res.json()) as { data: PushedGroup[] };
  return body.data;
}

function gauge(g: PushedGroup, name: string): number | undefined {
  const m = g[name] as { metrics?: Array<{ value: string }> } | undefined;
  return m?.metrics?.[0] ? Number(m.metrics[0].value) : undefined;
}

describe('pushMetrics against a real Pushgateway', () => {
  const grouping = { store: 's3://ops/mq prefix/é', source: 'kafka://b1:9092' };
  const facts = { command: 'backup' as const, startedAt: 1_000, endedAt: 61_000, exitStatus: 0, records: 250 };

  it('a success replaces the group; a failure afterwards keeps the last success time', async () => {
    const target = parsePushgatewayUrl(url);
    await pushMetrics(target, 'mqbak-nightly', grouping, formatMetrics(runMetrics(facts, {}, null)), { replace: true });
    let g = (await groups()).find((x) => x.labels.job === 'mqbak-nightly')!;
    expect(g.labels).toMatchObject(grouping);
    expect(gauge(g, 'mqbak_last_run_records')).toBe(250);
    expect(gauge(g, 'mqbak_last_success_timestamp_seconds')).toBe(61);

    const failed = { ...facts, endedAt: 120_000, exitStatus: 5, records: undefined };
    await pushMetrics(target, 'mqbak-nightly', grouping, formatMetrics(runMetrics(failed, {}, null)), { replace: false });
    g = (await groups()).find((x) => x.labels.job === 'mqbak-nightly')!;
    expect(gauge(g, 'mqbak_last_run_exit_status')).toBe(5);
    expect(gauge(g, 'mqbak_last_success_timestamp_seconds')).toBe(61);
  });

  it('nothing listening: an unreachable error naming the redacted URL, quickly', async () => {
    const target = parsePushgatewayUrl('http://user:s3cret@127.0.0.1:1');
    const t0 = Date.now();
    const e = await pushMetrics(target, 'mqbak', {}, 'mqbak_x 1\n', { replace: true, timeoutMs: 3000 }).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'unreachable' });
    expect(String((e as Error).message)).toContain('http://user:***@127.0.0.1:1');
    expect(String((e as Error).message)).not.toContain('s3cret');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('bad URLs are refused before any work', () => {
    expect(() => parsePushgatewayUrl('pushgateway:9091')).toThrow(/expected http/);
    expect(() => parsePushgatewayUrl('not a url')).toThrow(/not a URL/);
    expect(() => parsePushgatewayUrl('http://h:9091/?a=b')).toThrow(/no query/);
  });
});
