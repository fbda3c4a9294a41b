// The RabbitMQ scenarios of `npm run bench`: mirror and drain against an amqplib consumer, restore
// against an amqplib publisher with confirms, verify; and the drain alone for the growth table.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { measure } from './proc.js';
import { fmtInt } from './stats.js';
import { rabbitPids } from './broker-cpu.js';
import { sampleRounds } from './reps.js';
import { TSX, W, dirBytes, env, finish, log, mqbak, record, results, sample, type Measure, type ScenarioArgs } from './harness.js';

export async function rabbitScenarios(a: ScenarioArgs, work: string, amqpUrl: string, dataFile: string, n: number, rawBytes: number, profileDir?: string, growthOnly = false): Promise<Measure | null> {
  const q = `bench-q-${process.pid}-${n}`;
  const q2 = `${q}-restored`;
  const tag = growthOnly ? ` (${fmtInt(n)})` : '';
  const pub = record(`rabbitmq publish: amqplib confirms${tag}`, 'baseline', n, rawBytes);
  const cons = record(`rabbitmq consume: amqplib manual ack${tag}`, 'baseline', n, rawBytes);
  const mirror = record(`rabbitmq mirror: mqbak${tag}`, 'mqbak', n, rawBytes);
  const drain = record(`rabbitmq drain: mqbak${tag}`, 'mqbak', n, rawBytes);
  const restore = record(`rabbitmq restore: mqbak${tag}`, 'mqbak', n, rawBytes);
  const prefetch = String(Math.min(n, 65535));
  const broker = rabbitPids(amqpUrl);
  const publish = () => [...TSX, W('amqp-publish.ts'), amqpUrl, q, dataFile];
  // a step that only prepares a wanted one (refilling the queue) is run, not measured
  const unmeasured = async (what: string, argv: string[]) => {
    const r = await measure(argv, { env });
    if (r.code !== 0) throw new Error(`${what} failed: ${r.stderr.slice(-300)}`);
  };
  const measures = growthOnly ? [pub, drain] : [pub, mirror, cons, drain, restore];
  let lastDrain = '';
  await sampleRounds(measures, a.reps, async (i, want) => {
    await deleteQueue(amqpUrl, q);
    if (want(pub)) await sample(pub, publish(), { env, broker });
    else await unmeasured('publishing', publish());
    if (!growthOnly && want(mirror)) {
      const ms = join(work, `rmirror-${i}`);
      await sample(mirror, mqbak(['backup', amqpUrl, ms, '--queues', q, '--mode', 'mirror'], i === 0 ? profileDir : undefined), { env, broker });
      rmSync(ms, { recursive: true, force: true });
    }
    if (!growthOnly && want(cons)) {
      await sample(cons, [...TSX, W('amqp-consume.ts'), amqpUrl, q, String(n), prefetch], { env, broker });
      // refill for the drain (not counted: the publish baseline is sampled once per round)
      if (want(drain)) await unmeasured('refill', publish());
    }
    if (want(drain)) {
      const ds = join(work, `rdrain-${n}-${i}`);
      rmSync(ds, { recursive: true, force: true });
      let ok = await sample(drain, mqbak(['backup', amqpUrl, ds, '--queues', q, '--mode', 'drain'], i === 0 && !growthOnly ? profileDir : undefined), { env, broker });
      // a drain that ended early (exit 0, with a warning) archived less than the figures assume
      const left = ok ? await readyCount(amqpUrl, q) : 0;
      if (left > 0) {
        drain.samples.pop();
        drain.error = `the drain left ${left} of ${n} messages in the queue`;
        log(`${drain.name}: FAILED ${drain.error}`);
        ok = null;
      }
      // the restore and verify read the last drain backup that worked
      const drop = ok ? lastDrain : ds;
      if (drop && !a.keep) rmSync(drop, { recursive: true, force: true });
      if (ok) lastDrain = ds;
    }
    if (!growthOnly && want(restore) && drain.samples.length) {
      await deleteQueue(amqpUrl, q2, true);
      await sample(restore, mqbak(['restore', lastDrain, amqpUrl, '--queues', q, '--map', `${q}=${q2}`], i === 0 ? profileDir : undefined), { env, broker });
      await deleteQueue(amqpUrl, q2);
    }
  });
  await deleteQueue(amqpUrl, q);
  if (!growthOnly && drain.samples.length && lastDrain) {
    // 4. verify: of the Kafka backup when mqbak has one; of the last drain backup in any case
    const ver = record('rabbitmq verify: mqbak', 'mqbak', n, rawBytes) as Measure & { storedBytes?: number };
    ver.storedBytes = dirBytes(lastDrain);
    for (let j = 0; j < a.reps; j++) await sample(ver, mqbak(['verify', lastDrain]), { env, broker: [] });
    finish(ver);
  }
  if (lastDrain && !a.keep) rmSync(lastDrain, { recursive: true, force: true });
  [pub, cons, mirror, drain, restore].forEach(finish);
  if (growthOnly) {
    // keep only what the growth table needs
    for (const m of [pub, cons, mirror, restore]) results.splice(results.indexOf(m), 1);
  }
  return drain;
}

/** Deletes queue `q`; with `recreate`, declares it again empty (durable classic, like the source). */
async function deleteQueue(url: string, q: string, recreate = false): Promise<void> {
  const amqp = (await import('amqplib')).default;
  const conn = await amqp.connect(url, { noDelay: true });
  const ch = await conn.createChannel();
  await ch.deleteQueue(q);
  if (recreate) await ch.assertQueue(q, { durable: true });
  await ch.close();
  await conn.close();
}

/** Ready messages in queue `q` (a passive declare). */
async function readyCount(url: string, q: string): Promise<number> {
  const amqp = (await import('amqplib')).default;
  const conn = await amqp.connect(url, { noDelay: true });
  try {
    const ch = await conn.createChannel();
    return (await ch.checkQueue(q)).messageCount;
  } finally {
    await conn.close();
  }
}
