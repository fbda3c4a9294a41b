/**
 * --metrics-file and --pushgateway through the binary: a backup's metrics file passes promtool and
 * holds the right counts; a push reaches a real Pushgateway; a push to nothing leaves the backup's
 * exit status 0 with a warning; a metrics file in a folder that does not exist is refused before
 * any work; a failed run keeps the last success time.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { runMqbak } from '../helpers/run-mqbak.js';
import { sampleValue } from '../../src/cli/metrics/prometheus-text.js';

const SCRIPT = fileURLToPath(new URL('../brokers/pushgateway.sh', import.meta.url));
const dir = await mkdtemp(path.join(tmpdir(), 'mqbak-metrics-e2e-'));
let gateway = '';
beforeAll(() => {
  const r = spawnSync('bash', [SCRIPT, 'start', path.join(dir, 'gw')], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`pushgateway.sh start failed: ${r.stderr}`);
  gateway = r.stdout.trim();
});
afterAll(async () => {
  spawnSync('bash', [SCRIPT, 'stop', path.join(dir, 'gw')]);
  await rm(dir, { recursive: true, force: true });
});

const kafkaUrl = (): string => `kafka://${kafkaBrokers().join(',')}`;

async function topicWith(n: number): Promise<string> {
  const topic = uniqueName('metrics');
  await kafkaCreateTopic(topic, 2);
  const p = new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('metrics'), logLevel: logLevel.NOTHING }).producer();
  await p.connect();
  await p.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ partition: i % 2, value: `m${i}` })) });
  await p.disconnect();
  return topic;
}

function promtool(file: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: spawnSync('cat', [file], { encoding: 'utf8' }).stdout, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('metrics of a run', () => {
  it('backup --metrics-file: promtool accepts it; records, streams and chain are right; a failed run keeps the success time', async () => {
    const topic = await topicWith(30);
    const store = path.join(dir, 'store-file');
    const file = path.join(dir, 'mqbak.prom');
    const r = await runMqbak(['backup', kafkaUrl(), store, '--topics', topic, '--metrics-file', file]);
    expect(r.code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(promtool(file)).toEqual({ status: 0, out: '' });
    const l = { command: 'backup', store };
    expect(sampleValue(text, 'mqbak_last_run_records', l)).toBe(30);
    expect(sampleValue(text, 'mqbak_last_run_exit_status', l)).toBe(0);
    expect(sampleValue(text, 'mqbak_chain_length', l)).toBe(1);
    expect(sampleValue(text, 'mqbak_stream_records', { ...l, stream: `kafka/${topic}/0` })).toBe(15);
    expect(sampleValue(text, 'mqbak_stream_last_position', { ...l, stream: `kafka/${topic}/1` })).toBe(14);
    const success = sampleValue(text, 'mqbak_last_success_timestamp_seconds', l)!;
    expect(Math.abs(success - Date.now() / 1000)).toBeLessThan(120);

    const again = await runMqbak(['backup', kafkaUrl(), store, '--topics', topic, '--metrics-file', file]);
    expect(again.code).toBe(0);
    expect(sampleValue(await readFile(file, 'utf8'), 'mqbak_chain_length', l)).toBe(2);

    const failed = await runMqbak(['backup', kafkaUrl(), store, '--topics', uniqueName('no-such-topic'), '--metrics-file', file]);
    expect(failed.code).toBe(10);
    const after = await readFile(file, 'utf8');
    expect(sampleValue(after, 'mqbak_last_run_exit_status', l)).toBe(10);
    expect(sampleValue(after, 'mqbak_last_success_timestamp_seconds', l)).toBeGreaterThanOrEqual(success);
    expect(promtool(file).status).toBe(0);
  });

  it('--pushgateway: the metrics reach a real Pushgateway, grouped by job, store and source', async () => {
    const topic = await topicWith(8);
    const store = path.join(dir, 'store-push');
    const r = await runMqbak(['backup', kafkaUrl(), store, '--topics', topic, '--pushgateway', gateway, '--metrics-job', 'nightly-orders']);
    expect(r.code).toBe(0);
    const res = await fetch(`${gateway}/api/v1/metrics`);
    const groups = ((await res.json()) as { data: Array<Record<string, unknown> & { labels: Record<string, string> }> }).data;
    const g = groups.find((x) => x.labels.job === 'nightly-orders' && x.labels.store === store)!;
    expect(g.labels.source).toBe(kafkaUrl());
    const records = g.mqbak_last_run_records as { metrics: Array<{ value: string }> };
    expect(Number(records.metrics[0]!.value)).toBe(8);
  });

  it('a push to nothing is a warning: the backup still exits 0', async () => {
    const topic = await topicWith(3);
    const r = await runMqbak(['backup', kafkaUrl(), path.join(dir, 'store-nopush'), '--topics', topic, '--pushgateway', 'http://127.0.0.1:1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/^mqbak: warning: metrics not pushed: push metrics to http:\/\/127\.0\.0\.1:1: /m);
    expect(r.stderr).not.toMatch(/^mqbak: error:/m);
  });

  it('a metrics file that could not be written is refused before any work (exit 2)', async () => {
    const store = path.join(dir, 'store-never');
    const r = await runMqbak(['backup', kafkaUrl(), store, '--topics', 'whatever', '--metrics-file', path.join(dir, 'missing-folder', 'm.prom')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mqbak: error: --metrics-file .*cannot write in/m);
    const bad = await runMqbak(['verify', store, '--pushgateway', 'pushgateway:9091']);
    expect(bad.code).toBe(2);
  });

  it('verify --metrics-file counts findings by kind', async () => {
    const fixture = fileURLToPath(new URL('../../fixtures/store-v2/', import.meta.url));
    const file = path.join(dir, 'verify.prom');
    const r = await runMqbak(['verify', fixture, '--metrics-file', file]);
    expect(r.code).toBe(0);
    const text = await readFile(file, 'utf8');
    expect(promtool(file).status).toBe(0);
    expect(sampleValue(text, 'mqbak_verify_findings', { command: 'verify', kind: 'sha-mismatch' })).toBe(0);
    expect(sampleValue(text, 'mqbak_last_run_records', { command: 'verify' })).toBe(69);
  });
});
