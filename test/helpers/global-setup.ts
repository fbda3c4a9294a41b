/**
 * vitest globalSetup of the integration and e2e projects: makes the test brokers available and
 * publishes where they are in the MQBAK_TEST_* variables (the test workers inherit them).
 *
 * A variable that is already set names a broker someone else runs (docker-compose, or the other
 * project's run of this same set-up in this vitest process): it is used as it is. Otherwise:
 * - Kafka: builds the mock cluster (cached by test/brokers/kafka-mock.sh) and spawns one mockd
 *   for this run (kafka-mock.ts), plus a control port (MQBAK_TEST_KAFKA_CONTROL) that passes one
 *   command line to mockd's stdin and returns its reply: kafkaCreateTopic() needs it for
 *   partition counts. Tests that make a broker fail start their own mockd instead.
 * - S3: an s3rver on a free port with a temporary data directory (test/brokers/s3rver.sh).
 * - RabbitMQ: the one on 127.0.0.1:5672; test/brokers/start-rabbitmq.sh when it or its
 *   management/stream plugins do not answer. RabbitMQ is left running afterwards.
 * Teardown stops only what this set-up started.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { rabbitManagementUrl, rabbitUrl, S3RVER_CREDENTIALS } from './brokers.js';
import { startKafkaMock } from './kafka-mock.js';

const BROKERS_DIR = fileURLToPath(new URL('../brokers/', import.meta.url));

type Stop = () => Promise<void> | void;

export default async function setup(): Promise<() => Promise<void>> {
  const stops: Stop[] = [];
  const teardown = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    if (!process.env.MQBAK_TEST_KAFKA_BROKERS) stops.push(await startSharedKafkaMock());
    if (!process.env.MQBAK_TEST_S3_ENDPOINT) stops.push(startS3rver());
    if (!process.env.MQBAK_TEST_AMQP_URL) await ensureLocalRabbitMq();
  } catch (e) {
    await teardown();
    throw e;
  }
  return teardown;
}

/** Runs one of the test/brokers scripts; returns its stdout, throws with its stderr. */
function runScript(script: string, args: string[], timeoutMs: number): string {
  const r = spawnSync('bash', [path.join(BROKERS_DIR, script), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: timeoutMs,
  });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status ?? r.signal}`;
    throw new Error(`test/brokers/${script} ${args.join(' ')} failed (${why}):\n${r.stderr.trim()}`);
  }
  // the build's one-time progress note goes to stderr: let people see why the first run waits
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  return r.stdout.trim();
}

async function startSharedKafkaMock(): Promise<Stop> {
  const mock = await startKafkaMock();
  let server: net.Server;
  try {
    server = await startControlServer(mock.command);
  } catch (e) {
    await mock.stop();
    throw e;
  }
  const addr = server.address() as net.AddressInfo;
  process.env.MQBAK_TEST_KAFKA_BROKERS = mock.brokers.join(',');
  process.env.MQBAK_TEST_KAFKA_CONTROL = `127.0.0.1:${addr.port}`;
  return async () => {
    delete process.env.MQBAK_TEST_KAFKA_BROKERS;
    delete process.env.MQBAK_TEST_KAFKA_CONTROL;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await mock.stop();
  };
}

/** 127.0.0.1:0 server: each connection sends one command line and gets mockd's one-line reply. */
function startControlServer(command: (line: string) => Promise<string>): Promise<net.Server> {
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      if (buf.includes('\n')) return;
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      command(buf.slice(0, nl)).then(
        (reply) => sock.end(`${reply}\n`),
        (e: Error) => sock.end(`err ${e.message.replace(/\s+/g, ' ')}\n`),
      );
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function startS3rver(): Stop {
  // its own state directory: s3rver.sh then runs a private instance for this test run
  const state = mkdtempSync(path.join(os.tmpdir(), 'mqbak-test-s3rver-'));
  const stop = (): void => {
    spawnSync('bash', [path.join(BROKERS_DIR, 's3rver.sh'), 'stop', state], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
  };
  process.once('exit', stop);
  let endpoint: string;
  try {
    endpoint = runScript('s3rver.sh', ['start', state], 60_000);
  } catch (e) {
    stop();
    process.removeListener('exit', stop);
    throw e;
  }
  process.env.MQBAK_TEST_S3_ENDPOINT = endpoint;
  process.env.MQBAK_TEST_S3_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.MQBAK_TEST_S3_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
  return () => {
    delete process.env.MQBAK_TEST_S3_ENDPOINT;
    delete process.env.MQBAK_TEST_S3_ACCESS_KEY_ID;
    delete process.env.MQBAK_TEST_S3_SECRET_ACCESS_KEY;
    process.removeListener('exit', stop);
    stop();
  };
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.setTimeout(2_000, () => sock.destroy());
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('close', () => resolve(false));
  });
}

async function managementOk(): Promise<boolean> {
  try {
    // the same local checks as start-rabbitmq.sh, which is what fixes them
    const res = await fetch('http://127.0.0.1:15672/api/overview', {
      headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
      signal: AbortSignal.timeout(3_000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

async function ensureLocalRabbitMq(): Promise<void> {
  const ready = async (): Promise<boolean> =>
    (await portOpen(5672)) && (await managementOk()) && (await portOpen(5552));
  if (!(await ready())) {
    try {
      runScript('start-rabbitmq.sh', [], 10 * 60_000);
    } catch (e) {
      throw new Error(
        'no usable RabbitMQ on 127.0.0.1 (AMQP 5672, management 15672 with guest/guest, stream 5552) ' +
          'and test/brokers/start-rabbitmq.sh could not start one; run it by hand to see why, ' +
          `or set MQBAK_TEST_AMQP_URL and MQBAK_TEST_RABBITMQ_MANAGEMENT_URL to another RabbitMQ.\n${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  // published so that processes the tests start (bin/mqbak) can be given the same addresses
  process.env.MQBAK_TEST_AMQP_URL ??= rabbitUrl();
  process.env.MQBAK_TEST_RABBITMQ_MANAGEMENT_URL ??= rabbitManagementUrl();
}
