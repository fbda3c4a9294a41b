/**
 * Helpers of the Kafka end-to-end tests (test/e2e/kafka*.test.ts): the test broker's URL, a
 * kafkajs client, producing varied records, reading a topic back whole, temporary folders.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, expect } from 'vitest';
import { kafkaBrokers, uniqueName } from './brokers.js';
import { runMqbak } from './run-mqbak.js';
import { readTopic, type Seen } from './kafka-records.js';
import { requireTool } from './tools.js';

/** A temporary folder maker whose folders are removed after the calling test file. */
export function useTempDirs(): () => Promise<string> {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  return async () => {
    const d = await mkdtemp(path.join(tmpdir(), 'mqbak-kafka-e2e-'));
    dirs.push(d);
    return d;
  };
}

export const url = (): string => `kafka://${kafkaBrokers().join(',')}`;
export const kafka = (): Kafka => new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('e2e'), logLevel: logLevel.NOTHING });

export type { Seen } from './kafka-records.js';
export { strip } from './kafka-records.js';

/** Every record of the topic on the shared test broker, per partition in offset order. */
export const readAll = (topic: string): Promise<Seen[]> => readTopic(kafkaBrokers(), topic);

/**
 * n records spread over the partitions: null keys, null and empty values, binary bytes, repeated
 * header names, timestamps 1_700_000_000_000 + i s.
 */
export async function produceVaried(topic: string, partitions: number, n: number, base = 0): Promise<void> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const messages = [];
  for (let j = 0; j < n; j++) {
    const i = base + j;
    messages.push({
      partition: i % partitions,
      key: i % 5 === 0 ? null : Buffer.from([0, 255, i & 255, 10]),
      value: i % 7 === 0 ? null : i % 4 === 0 ? Buffer.alloc(0) : Buffer.from(`v${i}\u0000\u00ff`),
      headers: i % 3 === 0 ? { h: [Buffer.from([1, 2]), Buffer.from('second')], other: Buffer.alloc(0) } : {},
      timestamp: String(1_700_000_000_000 + i * 1000),
    });
  }
  await p.send({ topic, acks: -1, messages });
  await p.disconnect();
}

/** Each partition's end offset, by partition number. */
export async function highs(topic: string): Promise<bigint[]> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).sort((a, b) => a.partition - b.partition).map((e) => BigInt(e.high));
  } finally {
    await admin.disconnect();
  }
}

/** Every record as librdkafka (kcat) reads it, with its own codecs: partition|offset|key|value|timestamp. */
export function kcatDump(topic: string): string[] {
  requireTool('kcat');
  const c = spawnSync('kcat', ['-C', '-b', kafkaBrokers().join(','), '-t', topic, '-e', '-q', '-o', 'beginning', '-f', '%p|%o|%k|%s|%T\n'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  expect(c.status, c.stderr).toBe(0);
  return c.stdout.trim().split('\n').sort();
}

/** Restores the backup in dir into `<topic>-r` and checks librdkafka reads it back as it reads the source (n records). */
export async function restoreMatchesSource(dir: string, topic: string, n: number): Promise<void> {
  const target = `${topic}-r`;
  const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } });
  expect(r.code, r.stderr).toBe(0);
  const src = kcatDump(topic);
  expect(src).toHaveLength(n);
  expect(kcatDump(target)).toEqual(src);
}
