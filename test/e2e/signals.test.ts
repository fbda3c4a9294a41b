/**
 * SIGINT and SIGTERM through the binary while it waits on a broker or store that does not answer
 * (issue 14): whatever it waits on (kafkajs' connect retries, mqbak's Kafka retries, amqplib's
 * connect, S3 retries, the NATS handshake), the command ends at once with exit 130, one error
 * line and no stack trace, and leaves no manifest. A RabbitMQ drain interrupted after a
 * checkpoint committed leaves every message it had not committed in the queue.
 *
 * "At once" is 2 s; the tests allow a generous bound (BOUND_MS) so that a loaded machine does not
 * fail them: before the fix these runs went on for 9 s (Kafka's connect retries), 12 s (S3
 * retries), 15 s (amqplib's connect timeout) or 20 s (mqbak's Kafka retry budget).
 */
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, rabbitUrl, uniqueName } from '../helpers/brokers.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { produceBatches, sleep, startMqbak, until, urlOf } from '../helpers/kafka-faults.js';
import { useTempDirs } from '../helpers/kafka-e2e.js';
import { declare, env as rabbitEnv, listFiles, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';
import { runMqbak, type RunResult } from '../helpers/run-mqbak.js';
import { queueDepth } from '../../src/brokers/rabbitmq/index.js';

const tempDir = useTempDirs();
const { newVhost, newStore } = useRabbitE2e();

/** How long after the signal a run may still be going before the test fails (the goal is 2 s). */
const BOUND_MS = 6000;

/**
 * A port that accepts connections and never sends a byte: a broker or store that hangs (a
 * firewall dropping answers, a process stopped with SIGSTOP). No protocol is spoken here;
 * `connected()` tells that mqbak reached it (it is running and waiting there).
 */
interface SilentPort {
  port: number;
  connected(): boolean;
}
const silentServers: net.Server[] = [];
const silentSockets = new Set<net.Socket>();
afterAll(async () => {
  for (const s of silentSockets) s.destroy();
  for (const srv of silentServers) await new Promise((resolve) => srv.close(resolve));
});
async function silentPort(): Promise<SilentPort> {
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    silentSockets.add(s);
    s.on('error', () => {});
    s.on('close', () => silentSockets.delete(s));
  });
  silentServers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as net.AddressInfo).port, connected: () => connections > 0 };
}

/** Whether a local store holds a lock: the command runs (past loading) and is at work. */
const lockTaken = async (dir: string): Promise<boolean> => (await listFiles(dir)).some((f) => f.includes('/locks/'));

/**
 * Runs mqbak, waits until `ready` holds (the command is running: a signal before node has
 * loaded the CLI would find no handler) and then `afterMs`, sends `signal` (twice with `twice`),
 * and returns its result. Fails if it still runs BOUND_MS after the signal.
 */
async function interrupted(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; signal?: NodeJS.Signals; afterMs?: number; ready: (stderr: string) => boolean | Promise<boolean>; twice?: boolean },
): Promise<RunResult> {
  const run = startMqbak(args, options.env ?? {}, 120_000);
  const deadline = Date.now() + 30_000;
  while (run.running() && !(await options.ready(run.stderr())) && Date.now() < deadline) await sleep(20);
  await sleep(options.afterMs ?? 1000);
  expect(run.running(), `mqbak ended before the signal: ${run.stderr()}`).toBe(true);
  const signal = options.signal ?? 'SIGINT';
  run.kill(signal);
  if (options.twice) {
    await sleep(100);
    run.kill(signal);
  }
  const stopped = await until(() => !run.running(), BOUND_MS);
  if (!stopped) run.kill('SIGKILL');
  const r = await run.done;
  expect(stopped, `mqbak still ran ${BOUND_MS} ms after ${signal}; stderr: ${r.stderr}`).toBe(true);
  return r;
}

/** Exit 130, one error line (no other, no hint), no stack trace. */
function expectInterrupted(r: RunResult): void {
  expect(r.signal, r.stderr).toBe(null);
  expect(r.code, r.stderr).toBe(130);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.match(/^mqbak: error: /gm), r.stderr).toHaveLength(1);
  expect(r.stderr).toMatch(/^mqbak: error: interrupted/m);
}

/** The committed manifests of a local store (not the store's .mqbak-tmp-* files being written). */
const manifestsIn = async (dir: string): Promise<string[]> =>
  (await listFiles(dir)).filter((f) => f.includes('/manifests/') && !path.basename(f).startsWith('.mqbak-tmp-'));

describe('SIGINT or SIGTERM while a broker does not answer', () => {
  it('Kafka at a port nothing listens on (kafkajs retries the connect): SIGINT ends the backup with exit 130, no manifest', async () => {
    const dir = await tempDir();
    // NODE_ENV as users run it: under vitest's NODE_ENV=test, kafkajs retries a refused connect
    // without its backoff and gives up within a second, before the signal could come
    const r = await interrupted(['backup', `kafka://127.0.0.1:${await freePort()}`, dir, '--topics', 'orders'], { env: { NODE_ENV: '' }, ready: () => lockTaken(dir) });
    expectInterrupted(r);
    expect(await manifestsIn(dir)).toEqual([]);
  }, 60_000);

  describe('a Kafka cluster answering every Metadata request with LEADER_NOT_AVAILABLE', () => {
    let mock: KafkaMock;
    beforeAll(async () => {
      mock = await startKafkaMock({ brokers: 1 });
    });
    afterAll(async () => {
      await mock?.stop();
    });

    it('SIGTERM during the retries ends the backup with exit 130, no manifest', async () => {
      const topic = uniqueName('sig-k');
      await mock.send(`create ${topic} 2 1`);
      await produceBatches(mock, topic, 2, 3, 10);
      await mock.send('errors Metadata 100000 LEADER_NOT_AVAILABLE');
      const dir = await tempDir();
      try {
        const r = await interrupted(['backup', urlOf(mock), dir, '--topics', topic], { signal: 'SIGTERM', afterMs: 2000, ready: () => lockTaken(dir) });
        expectInterrupted(r);
      } finally {
        await mock.send('clear_errors Metadata');
      }
      expect(await manifestsIn(dir)).toEqual([]);
    }, 90_000);
  });

  it('RabbitMQ whose AMQP port accepts and never answers (amqplib waits 15 s): SIGINT ends the backup with exit 130, the queue untouched', async () => {
    const { vhost, conn } = await newVhost('sig-hung');
    await declare(conn, 'jobs');
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 5; i++) ch.sendToQueue('jobs', Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    await ch.close();
    const hung = new URL(rabbitUrl(vhost));
    const silent = await silentPort();
    hung.port = String(silent.port);
    const store = await newStore();
    // the management API answers (it lists the queue); the AMQP connection never opens
    const r = await interrupted(['backup', hung.toString(), store, '--queues', 'jobs'], { env: rabbitEnv, ready: silent.connected });
    expectInterrupted(r);
    expect(await manifestsIn(store)).toEqual([]);
    expect((await queueDepth(conn, 'jobs')).messages).toBe(5);
  }, 60_000);

  it('NATS whose port accepts and never answers: SIGTERM ends the backup with exit 130, no manifest', async () => {
    const dir = await tempDir();
    const silent = await silentPort();
    const r = await interrupted(['backup', `nats://127.0.0.1:${silent.port}`, dir, '--streams', 'ORDERS'], { signal: 'SIGTERM', ready: silent.connected });
    expectInterrupted(r);
    expect(await manifestsIn(dir)).toEqual([]);
  }, 60_000);

  it('a second SIGINT while the first is being handled: still exit 130, one error line, no stack trace', async () => {
    const dir = await tempDir();
    const silent = await silentPort();
    const r = await interrupted(['backup', `kafka://127.0.0.1:${silent.port}`, dir, '--topics', 'orders'], { twice: true, ready: silent.connected });
    expectInterrupted(r);
    expect(await manifestsIn(dir)).toEqual([]);
  }, 60_000);
});

describe('SIGINT while the S3 store does not answer', () => {
  it('an S3 endpoint that accepts and never answers (each request waits up to 120 s, then is retried): SIGINT ends the backup with exit 130, every message still in its queue', async () => {
    const { vhost, conn } = await newVhost('sig-s3');
    await declare(conn, 'jobs');
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 5; i++) ch.sendToQueue('jobs', Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    await ch.close();
    const silent = await silentPort();
    const s3 = {
      ...rabbitEnv,
      AWS_ACCESS_KEY_ID: 'mqbak-test',
      AWS_SECRET_ACCESS_KEY: 'mqbak-test-secret',
      AWS_REGION: 'us-east-1',
      MQBAK_S3_ENDPOINT: `http://127.0.0.1:${silent.port}`,
      MQBAK_S3_PATH_STYLE: '1',
    };
    const r = await interrupted(['backup', rabbitUrl(vhost), `s3://${uniqueName('sig-bucket')}/x`, '--queues', 'jobs'], { env: s3, ready: silent.connected });
    expectInterrupted(r);
    expect((await queueDepth(conn, 'jobs')).messages).toBe(5);
  }, 60_000);
});

describe('a RabbitMQ drain interrupted after a checkpoint committed', () => {
  it('SIGINT: exit 130, and every message no committed backup holds is still in the queue', async () => {
    const { url, conn } = await newVhost('sig-drain');
    const store = await newStore();
    const q = 'work';
    await declare(conn, q);
    const n = 6000;
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < n; i++) ch.sendToQueue(q, Buffer.alloc(512, i % 256), { messageId: `w${i}`, persistent: true });
    await ch.waitForConfirms();
    await ch.close();

    const run = startMqbak(['backup', url, store, '--queues', q, '--mode', 'drain', '--checkpoint', '1000', '--segment-size', '64k'], rabbitEnv);
    const deadline = Date.now() + 60_000;
    while ((await manifestsIn(store)).length === 0 && run.running() && Date.now() < deadline) await sleep(5);
    expect(run.running(), `the drain ended before it could be interrupted: ${run.stderr()}`).toBe(true);
    run.kill('SIGINT');
    const stopped = await until(() => !run.running(), BOUND_MS);
    if (!stopped) run.kill('SIGKILL');
    const r = await run.done;
    expect(stopped, r.stderr).toBe(true);
    expectInterrupted(r);

    // what the committed backups hold
    const list = await runMqbak(['list', store, '--json'], { env: rabbitEnv });
    expect(list.code, list.stderr).toBe(0);
    const ids = (JSON.parse(list.stdout) as Array<{ id: string }>).map((b) => b.id);
    expect(ids.length).toBeGreaterThan(0);
    const committed = new Set<string>();
    for (const id of ids) {
      const cat = await runMqbak(['cat', store, id], { env: rabbitEnv, timeoutMs: 120_000 });
      expect(cat.code, cat.stderr).toBe(0);
      for (const line of cat.stdout.split('\n').filter(Boolean)) {
        const mid = (JSON.parse(line) as { amqp?: { properties?: { messageId?: string } } }).amqp?.properties?.messageId;
        if (mid) committed.add(mid);
      }
    }
    expect(committed.size).toBeGreaterThan(0);
    expect(committed.size).toBeLessThan(n); // interrupted before the end

    // what is still queued: read (and acknowledged) by a client of the test's own
    const queued = new Set<string>();
    const reader = await conn.model.createChannel();
    for (;;) {
      const m = await reader.get(q, { noAck: true });
      if (!m) break;
      queued.add(String(m.properties.messageId));
    }
    await reader.close();
    const lost = Array.from({ length: n }, (_, i) => `w${i}`).filter((m) => !committed.has(m) && !queued.has(m));
    expect(lost).toEqual([]);
  }, 180_000);
});
