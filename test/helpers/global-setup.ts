/**
 * vitest globalSetup of the integration and e2e projects: makes the test brokers available and
 * publishes where they are in the MQBAK_TEST_* variables (the test workers inherit them). It runs
 * after tools-setup.ts, which has installed the tools the tests spawn (nats-server among them).
 *
 * A variable that is already set names a broker someone else runs (docker-compose, or the other
 * project's run of this same set-up in this vitest process): it is used as it is. Otherwise:
 * - Kafka: builds the mock cluster (cached by test/brokers/kafka-mock.sh) and spawns one mockd
 *   for this run (kafka-mock.ts), plus a control port (MQBAK_TEST_KAFKA_CONTROL) that passes one
 *   command line to mockd's stdin and returns its reply: kafkaCreateTopic() needs it for
 *   partition counts. Tests that make a broker fail start their own mockd instead.
 * - S3: an s3rver on a free port with a temporary data directory (test/brokers/s3rver.sh).
 * - The Ceph RADOS Gateway (MQBAK_TEST_RGW_*), the second S3 server the S3 tests run against:
 *   a single-node Ceph of test/brokers/ceph-rgw.sh in a temporary state directory, started
 *   while the rest starts (10-20 s). Without Ceph's packages installed this is an
 *   error in CI; elsewhere a note, and the tests against the gateway are skipped. MQBAK_TEST_RGW=off
 *   skips them on purpose (a quicker run of the S3 tests on s3rver alone).
 * - NATS: a nats-server with JetStream on a free port with its own temporary store folder
 *   (test/brokers/nats.sh), never the server that may run on 4222: tests create and delete
 *   streams. MQBAK_TEST_NATS_URL says where it listens.
 * - RabbitMQ: the one on 127.0.0.1:5672; test/brokers/start-rabbitmq.sh when it or its
 *   management/stream plugins do not answer. RabbitMQ is left running afterwards.
 * Teardown stops only what this set-up started.
 */
import { spawn, spawnSync } from 'node:child_process';
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
  // the gateway starts in the background; its stop is registered even if something else fails
  const rgw = process.env.MQBAK_TEST_RGW_ENDPOINT ? undefined : startCephRgw();
  try {
    if (!process.env.MQBAK_TEST_KAFKA_BROKERS) stops.push(await startSharedKafkaMock());
    if (!process.env.MQBAK_TEST_S3_ENDPOINT) stops.push(startS3rver());
    if (!process.env.MQBAK_TEST_NATS_URL) stops.push(startNats());
    if (!process.env.MQBAK_TEST_AMQP_URL) await ensureLocalRabbitMq();
  } catch (e) {
    if (rgw) stops.push(await rgw.then((r) => r.stop));
    await teardown();
    throw e;
  }
  if (rgw) {
    const r = await rgw;
    stops.push(r.stop);
    if (r.error) {
      await teardown();
      throw r.error;
    }
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

/**
 * Starts a single-node Ceph and its gateway in a temporary state directory of its own and
 * publishes MQBAK_TEST_RGW_ENDPOINT and the user's keys (made by the script for this run).
 * Resolves with its stop, and with the error when it could not start (stop still cleans up).
 */
async function startCephRgw(): Promise<{ stop: Stop; error?: Error }> {
  const script = path.join(BROKERS_DIR, 'ceph-rgw.sh');
  if (process.env.MQBAK_TEST_RGW === 'off') {
    process.stderr.write('note: MQBAK_TEST_RGW=off: the S3 tests against the Ceph RADOS Gateway are skipped\n');
    return { stop: () => undefined };
  }
  const installed = spawnSync('bash', ['-c', 'command -v radosgw && command -v ceph-mon && command -v ceph-osd'], { stdio: 'ignore' }).status === 0;
  if (!installed) {
    const how = `install Debian's ceph-mon, ceph-osd, radosgw and ceph-common (bash ${script} install)`;
    if (process.env.CI) return { stop: () => undefined, error: new Error(`the S3 tests need the Ceph RADOS Gateway in CI: ${how}`) };
    process.stderr.write(`note: Ceph is not installed: the S3 tests against the Ceph RADOS Gateway are skipped; ${how}\n`);
    return { stop: () => undefined };
  }
  const state = mkdtempSync(path.join(os.tmpdir(), 'mqbak-test-ceph-'));
  const stop = (): void => {
    spawnSync('bash', [script, 'stop', state], { stdio: 'ignore', timeout: 60_000 });
    rmSync(state, { recursive: true, force: true });
  };
  process.once('exit', stop);
  const stopAndForget: Stop = () => {
    for (const name of ['MQBAK_TEST_RGW_ENDPOINT', 'MQBAK_TEST_RGW_ACCESS_KEY_ID', 'MQBAK_TEST_RGW_SECRET_ACCESS_KEY']) delete process.env[name];
    process.removeListener('exit', stop);
    stop();
  };
  const started = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn('bash', [script, 'start', state], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 5 * 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
  if (started.code !== 0) {
    return { stop: stopAndForget, error: new Error(`test/brokers/ceph-rgw.sh start failed (exit ${started.code}):\n${started.stderr.trim()}`) };
  }
  // its one line of timings: how long the set-up waited, in the test log
  process.stderr.write(started.stderr);
  const vars = spawnSync('bash', [script, 'env', state], { encoding: 'utf8' });
  for (const line of vars.stdout.split('\n')) {
    const m = /^(MQBAK_TEST_RGW_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) process.env[m[1]!] = m[2]!;
  }
  if (!process.env.MQBAK_TEST_RGW_SECRET_ACCESS_KEY) {
    return { stop: stopAndForget, error: new Error(`test/brokers/ceph-rgw.sh env printed no keys:\n${vars.stderr}`) };
  }
  return { stop: stopAndForget };
}

function startNats(): Stop {
  // its own state directory: nats.sh then runs a private server for this test run
  const state = mkdtempSync(path.join(os.tmpdir(), 'mqbak-test-nats-'));
  const stop = (): void => {
    spawnSync('bash', [path.join(BROKERS_DIR, 'nats.sh'), 'stop', state], { stdio: 'ignore' });
    rmSync(state, { recursive: true, force: true });
  };
  process.once('exit', stop);
  let url: string;
  try {
    url = runScript('nats.sh', ['start', state], 60_000);
  } catch (e) {
    stop();
    process.removeListener('exit', stop);
    throw e;
  }
  process.env.MQBAK_TEST_NATS_URL = url;
  return () => {
    delete process.env.MQBAK_TEST_NATS_URL;
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
