import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { formatMetrics, sampleValue, type Metric } from '../../../../src/cli/metrics/prometheus-text.js';
import { runMetrics } from '../../../../src/cli/metrics/run-metrics.js';

/** promtool's verdict on exposition text: its exit status and what it printed. */
function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is needed (apt-get install prometheus): ${r.error.message}`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('formatMetrics', () => {
  it('writes HELP, TYPE and samples with sorted, escaped labels', () => {
    const text = formatMetrics([
      { name: 'mqbak_x_bytes', help: 'a help with a \\ and\na newline', type: 'gauge', samples: [{ labels: { z: 'a"b', a: 'c\\d\ne' }, value: 1.5 }] },
      { name: 'mqbak_y_total', help: 'count', type: 'counter', samples: [{ value: NaN }, { labels: { k: 'v' }, value: Infinity }] },
      { name: 'mqbak_empty', help: 'left out', type: 'gauge', samples: [] },
    ]);
    expect(text).toBe(
      '# HELP mqbak_x_bytes a help with a \\\\ and\\na newline\n# TYPE mqbak_x_bytes gauge\n' +
        'mqbak_x_bytes{a="c\\\\d\\ne",z="a\\"b"} 1.5\n' +
        '# HELP mqbak_y_total count\n# TYPE mqbak_y_total counter\nmqbak_y_total NaN\nmqbak_y_total{k="v"} +Inf\n',
    );
    expect(promtool(text).status).toBe(0);
  });

  it('refuses names Prometheus would refuse, and _total on a gauge', () => {
    const bad = (m: Partial<Metric>) => () => formatMetrics([{ name: 'mqbak_a', help: 'h', type: 'gauge', samples: [{ value: 1 }], ...m }]);
    expect(bad({ name: '1abc' })).toThrow(/not valid/);
    expect(bad({ name: 'mqbak_a_total' })).toThrow(/_total/);
    expect(bad({ type: 'counter' })).toThrow(/_total/);
    expect(bad({ samples: [{ labels: { 'bad-name': 'x' }, value: 1 }] })).toThrow(/label name/);
    expect(bad({ samples: [{ labels: { __reserved: 'x' }, value: 1 }] })).toThrow(/label name/);
  });

  it('reads a sample back by name and labels', () => {
    const text = formatMetrics([{ name: 'mqbak_a', help: 'h', type: 'gauge', samples: [{ labels: { s: 'x"\ny' }, value: 3 }, { labels: { s: 'b' }, value: 4 }] }]);
    expect(sampleValue(text, 'mqbak_a', { s: 'x"\ny' })).toBe(3);
    expect(sampleValue(text, 'mqbak_a', { s: 'b' })).toBe(4);
    expect(sampleValue(text, 'mqbak_a', { s: 'c' })).toBeNull();
    expect(sampleValue(text, 'mqbak_b')).toBeNull();
  });
});

describe('runMetrics', () => {
  const labels = { store: 's3://bucket/prefix', source: 'kafka://broker:9092' };
  const backup = {
    command: 'backup' as const,
    startedAt: 1_700_000_000_000,
    endedAt: 1_700_000_012_500,
    exitStatus: 0,
    records: 300,
    rawBytes: 1_000_000,
    storedBytes: 200_000,
    chainLength: 3,
    streams: [
      { stream: 'kafka/orders/0', records: 100, lastPosition: '99' },
      { stream: 'kafka/orders/1', records: 0, lastPosition: null },
    ],
  };

  it('a backup: every metric passes promtool, with the right values', () => {
    const text = formatMetrics(runMetrics(backup, labels, null));
    const check = promtool(text);
    expect(check.out).toBe('');
    expect(check.status).toBe(0);
    const l = { ...labels, command: 'backup' };
    expect(sampleValue(text, 'mqbak_last_success_timestamp_seconds', l)).toBe(1_700_000_012.5);
    expect(sampleValue(text, 'mqbak_last_run_duration_seconds', l)).toBe(12.5);
    expect(sampleValue(text, 'mqbak_last_run_records', l)).toBe(300);
    expect(sampleValue(text, 'mqbak_chain_length', l)).toBe(3);
    expect(sampleValue(text, 'mqbak_stream_records', { ...l, stream: 'kafka/orders/0' })).toBe(100);
    expect(sampleValue(text, 'mqbak_stream_last_position', { ...l, stream: 'kafka/orders/0' })).toBe(99);
    expect(sampleValue(text, 'mqbak_stream_last_position', { ...l, stream: 'kafka/orders/1' })).toBeNull();
  });

  it('a failed run keeps the previous success time, or has none', () => {
    const failed = { ...backup, exitStatus: 5 };
    const l = { ...labels, command: 'backup' };
    expect(sampleValue(formatMetrics(runMetrics(failed, labels, 1_600_000_000)), 'mqbak_last_success_timestamp_seconds', l)).toBe(1_600_000_000);
    const none = formatMetrics(runMetrics(failed, labels, null));
    expect(sampleValue(none, 'mqbak_last_success_timestamp_seconds', l)).toBeNull();
    expect(sampleValue(none, 'mqbak_last_run_exit_status', l)).toBe(5);
    expect(promtool(none).status).toBe(0);
  });

  it('verify findings by kind and prune figures pass promtool', () => {
    const text = formatMetrics([
      ...runMetrics({ command: 'verify', startedAt: 0, endedAt: 1000, exitStatus: 4, findings: { 'sha-mismatch': 1, 'missing-segment': 0 } }, labels, null),
    ]);
    expect(promtool(text).status).toBe(0);
    expect(sampleValue(text, 'mqbak_verify_findings', { command: 'verify', kind: 'sha-mismatch' })).toBe(1);
    const prune = formatMetrics(runMetrics({ command: 'prune', startedAt: 0, endedAt: 1000, exitStatus: 0, deleted: { objects: 7, bytes: 4096 } }, labels, null));
    expect(promtool(prune).status).toBe(0);
    expect(sampleValue(prune, 'mqbak_prune_freed_bytes', { command: 'prune' })).toBe(4096);
  });
});
