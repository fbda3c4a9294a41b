// The RabbitMQ scenarios of `npm run bench`: mirror and drain against an amqplib consumer, restore
// against an amqplib publisher with confirms, verify; and the drain alone for the growth table.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { measure } from './proc.js';
import { fmtInt } from './stats.js';
import { TSX, W, dirBytes, env, finish, mqbak, record, results, sample, type Measure, type ScenarioArgs } from './harness.js';

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
  for (let i = 0; i < a.reps; i++) {
    await deleteQueue(amqpUrl, q);
    await sample(pub, [...TSX, W('amqp-publish.ts'), amqpUrl, q, dataFile], { env });
    if (!growthOnly) {
      const ms = join(work, `rmirror-${i}`);
      await sample(mirror, mqbak(['backup', amqpUrl, ms, '--queues', q, '--mode', 'mirror'], i === 0 ? profileDir : undefined), { env });
      rmSync(ms, { recursive: true, force: true });
      await sample(cons, [...TSX, W('amqp-consume.ts'), amqpUrl, q, String(n), prefetch], { env });
      // refill for the drain (not counted: the publish baseline is sampled once per repetition)
      const refill = await measure([...TSX, W('amqp-publish.ts'), amqpUrl, q, dataFile], { env });
      if (refill.code !== 0) throw new Error(`refill failed: ${refill.stderr.slice(-300)}`);
    }
    const ds = join(work, `rdrain-${n}-${i}`);
    rmSync(ds, { recursive: true, force: true });
    await sample(drain, mqbak(['backup', amqpUrl, ds, '--queues', q, '--mode', 'drain'], i === 0 && !growthOnly ? profileDir : undefined), { env });
    if (!growthOnly && drain.samples.length) {
      await deleteQueue(amqpUrl, q2, true);
      await sample(restore, mqbak(['restore', ds, amqpUrl, '--queues', q, '--map', `${q}=${q2}`], i === 0 ? profileDir : undefined), { env });
      await deleteQueue(amqpUrl, q2);
    }
    if (!growthOnly && i === a.reps - 1 && drain.samples.length) {
      // 4. verify: of the Kafka backup when mqbak has one; of this drain backup in any case
      const ver = record('rabbitmq verify: mqbak', 'mqbak', n, rawBytes) as Measure & { storedBytes?: number };
      ver.storedBytes = dirBytes(ds);
      for (let j = 0; j < a.reps; j++) await sample(ver, mqbak(['verify', ds]), { env });
      finish(ver);
    }
    if (!a.keep) rmSync(ds, { recursive: true, force: true });
  }
  await deleteQueue(amqpUrl, q);
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
