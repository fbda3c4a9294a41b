/**
 * vitest globalSetup of the integration and e2e projects: makes the test brokers available and
 * publishes where they are in the MQBAK_TEST_* variables (the test workers inherit them).
 *
 * A variable that is already set names a broker someone else runs (docker-compose, or the other
 * project's run of this same set-up in this vitest process): it is used as it is. Otherwise:
 * - Kafka: builds the mock cluster (cached by test/brokers/kafka-mock.sh) and spawns one mockd
 *   for this run, plus a control port (MQBAK_TEST_KAFKA_CONTROL) that passes one command line
 *   to mockd's stdin and returns its reply: kafkaCreateTopic() needs it for partition counts.
 * - S3: an s3rver on a free port with a temporary data directory (test/brokers/s3rver.sh).
 * - NATS: a nats-server with JetStream on a free port with its own temporary store folder
 *   (test/brokers/nats.sh), never the server that may run on 4222: tests create and delete
 *   streams. MQBAK_TEST_NATS_URL says where it listens.
 * - RabbitMQ: the one on 127.0.0.1:5672; test/brokers/start-rabbitmq.sh when it or its
 *   management/stream plugins do not answer. RabbitMQ is left running afterwards.
 * Teardown stops only what this set-up started.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { rabbitManagementUrl, rabbitUrl, S3RVER_CREDENTIALS } from './brokers.js';

const BROKERS_DIR = fileURLToPath(new URL('../brokers/', import.meta.url));

type Stop = () => Promise<void> | void;

export default async function setup(): Promise<() => Promise<void>> {
  const stops: Stop[] = [];
  const teardown = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    if (!process.env.MQBAK_TEST_KAFKA_BROKERS) stops.push(await startKafkaMock());
    if (!process.env.MQBAK_TEST_S3_ENDPOINT) stops.push(startS3rver());
    if (!process.env.MQBAK_TEST_NATS_URL) stops.push(startNats());
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

async function startKafkaMock(): Promise<Stop> {
  const bin = runScript('kafka-mock.sh', ['build'], 15 * 60_000).split('\n').pop() ?? '';
  const child = spawn(bin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr = (stderr + d).slice(-4000);
  });
  // replies to commands, in order: mockd answers each stdin line with one `ok` or `err ...` line
  const replies = new LineQueue();
  let bootstrap: string | undefined;
  const booted = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`mockd printed no BOOTSTRAP line in 20 s\n${stderr}`)), 20_000);
    child.on('error', (e) => reject(new Error(`cannot run ${bin}: ${e.message}`)));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const why = `mockd exited (${code ?? signal})${stderr ? `:\n${stderr}` : ''}`;
      reject(new Error(why));
      replies.fail(new Error(why));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('BOOTSTRAP ')) {
        bootstrap = line.slice('BOOTSTRAP '.length).trim();
        clearTimeout(timer);
        resolve(bootstrap);
      } else if (line === 'ok' || line.startsWith('err')) {
        replies.push(line);
      }
    });
  });
  // mockd acts on SIGTERM only once its stdin is closed; `quit` makes it exit at once
  const killChild = (): void => {
    if (child.stdin.writable) child.stdin.end('quit\n');
    child.kill('SIGTERM');
  };
  // if vitest is interrupted, do not leave mockd serving forever (it ignores stdin EOF)
  process.once('exit', killChild);
  let server: net.Server | undefined;
  try {
    await booted;
    server = await startControlServer(child, replies);
  } catch (e) {
    killChild();
    throw e;
  }
  const addr = server.address() as net.AddressInfo;
  process.env.MQBAK_TEST_KAFKA_BROKERS = bootstrap;
  process.env.MQBAK_TEST_KAFKA_CONTROL = `127.0.0.1:${addr.port}`;
  return async () => {
    delete process.env.MQBAK_TEST_KAFKA_BROKERS;
    delete process.env.MQBAK_TEST_KAFKA_CONTROL;
    process.removeListener('exit', killChild);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killChild();
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
}

/** Lines that arrive before or after someone waits for them. */
class LineQueue {
  private lines: string[] = [];
  private waiters: Array<{ resolve: (l: string) => void; reject: (e: Error) => void }> = [];
  private failed: Error | undefined;
  push(line: string): void {
    const w = this.waiters.shift();
    if (w) w.resolve(line);
    else this.lines.push(line);
  }
  fail(e: Error): void {
    this.failed = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }
  next(timeoutMs: number): Promise<string> {
    const line = this.lines.shift();
    if (line !== undefined) return Promise.resolve(line);
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      const w = {
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`no reply from mockd in ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }
}

/**
 * 127.0.0.1:0 server: each connection sends one command line and gets mockd's one-line reply.
 * Commands go to mockd one at a time, because its replies carry no id to match them by.
 */
function startControlServer(child: ChildProcessWithoutNullStreams, replies: LineQueue): Promise<net.Server> {
  let chain: Promise<unknown> = Promise.resolve();
  const run = (line: string): Promise<string> => {
    const result = chain.then(async () => {
      child.stdin.write(`${line}\n`);
      return replies.next(30_000);
    });
    chain = result.catch(() => undefined);
    return result;
  };
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      if (buf.includes('\n')) return;
      buf += d;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl).trim();
      // one command per line: a stray newline inside would desynchronise the replies
      run(line).then(
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
