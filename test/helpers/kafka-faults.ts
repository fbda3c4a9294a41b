/**
 * Helpers of the Kafka fault tests (test/e2e/kafka-faults*.test.ts): a 3-broker test broker of
 * the test's own, records produced in many small batches (the test broker answers a Fetch with
 * one batch, so a backup makes a request per batch and lasts long enough to be disturbed), mqbak
 * run as a child the test can disturb while it runs, and the offset map read back.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { Kafka, logLevel } from 'kafkajs';
import { uniqueName } from './brokers.js';
import type { KafkaMock } from './kafka-mock.js';
import { MQBAK_BIN, type RunResult } from './run-mqbak.js';

export const kafkaOf = (mock: KafkaMock): Kafka =>
  new Kafka({ brokers: mock.brokers, clientId: uniqueName('faults'), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 100 } });

export const urlOf = (mock: KafkaMock): string => `kafka://${mock.brokers.join(',')}`;

/** A topic of `partitions` partitions, partition p led by broker (p % 3) + 1. */
export async function createSpread(mock: KafkaMock, prefix: string, partitions: number): Promise<string> {
  const topic = uniqueName(prefix);
  await mock.send(`create ${topic} ${partitions} 3`);
  for (let p = 0; p < partitions; p++) await mock.send(`leader ${topic} ${p} ${(p % 3) + 1}`);
  return topic;
}

/**
 * `batches` batches of `perBatch` records into every partition (record i of partition p: key
 * `p-i`, a value of `valueBytes` bytes, a header, timestamp 1_700_000_000_000 + i).
 */
export async function produceBatches(mock: KafkaMock, topic: string, partitions: number, batches: number, perBatch: number, valueBytes = 100): Promise<void> {
  const producer = kafkaOf(mock).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let b = 0; b < batches; b++) {
      await producer.sendBatch({
        acks: -1,
        topicMessages: [
          {
            topic,
            messages: Array.from({ length: partitions * perBatch }, (_, k) => {
              const p = k % partitions;
              const i = b * perBatch + Math.floor(k / partitions);
              return {
                partition: p,
                key: `${p}-${i}`,
                value: Buffer.alloc(valueBytes, `${p}:${i};`),
                headers: { n: String(i) },
                timestamp: String(1_700_000_000_000 + i),
              };
            }),
          },
        ],
      });
    }
  } finally {
    await producer.disconnect();
  }
}

export interface Running {
  /** Settles with the run's result once the child exited. */
  done: Promise<RunResult>;
  running(): boolean;
  /** stderr so far */
  stderr(): string;
  kill(signal: NodeJS.Signals): void;
}

/** Starts the mqbak binary as a child, for a test to disturb the broker while it runs. */
export function startMqbak(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Running {
  const child = spawn(process.execPath, [MQBAK_BIN, ...args], { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { done, running: () => !exited, stderr: () => stderr, kill: (s) => child.kill(s) };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (checked every 20 ms) or `ms` passed; returns whether it held. */
export async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await sleep(20);
  return cond();
}

export interface MapLine {
  stream: string;
  source: { topic: string; partition: number };
  target: { topic: string; partition: number };
  sourceStart: string;
  sourceEnd: string;
  targetStart: string;
}

export async function readOffsetMap(file: string): Promise<MapLine[]> {
  return (await readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as MapLine);
}

/** Each partition's [low, high) now. */
export async function watermarks(mock: KafkaMock, topic: string): Promise<Array<{ partition: number; low: bigint; high: bigint }>> {
  const admin = kafkaOf(mock).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).map((o) => ({ partition: o.partition, low: BigInt(o.low), high: BigInt(o.high) })).sort((a, b) => a.partition - b.partition);
  } finally {
    await admin.disconnect();
  }
}
