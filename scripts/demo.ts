/**
 * The demo's steps (scripts/demo.sh starts the brokers first). Each mqbak command is printed
 * before it runs, so the output doubles as a walkthrough.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import amqp from 'amqplib';
import { natsDemo } from './demo-nats.js';

const bootstrap = process.env.MQBAK_DEMO_KAFKA ?? '127.0.0.1:9092';
const amqpBase = process.env.MQBAK_DEMO_AMQP ?? 'amqp://guest:guest@127.0.0.1:5672';
const mgmt = process.env.MQBAK_DEMO_MANAGEMENT ?? 'http://127.0.0.1:15672';
const natsUrl = process.env.MQBAK_DEMO_NATS ?? 'nats://127.0.0.1:4222';
const stamp = new Date().toISOString().replace(/[-:.TZ]/g, '').slice(0, 14);
const topic = `demo-orders-${stamp}`;
const queue = `demo-jobs-${stamp}`;
const vhost = `demo-restored-${stamp}`;
const store = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'mqbak-demo-'));
const KAFKA_RECORDS = 2000;
const AMQP_MESSAGES = 500;

function mqbak(...args: string[]): string {
  const shown = args.map((a) => (a.includes('guest:guest') ? a.replace('guest:guest', 'guest:***') : a));
  console.log(`\n$ mqbak ${shown.join(' ')}`);
  const r = spawnSync(process.execPath, ['bin/mqbak', ...args], { encoding: 'utf8', env: { ...process.env, CI: 'true' } });
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  if (r.status !== 0) {
    console.error(`demo: mqbak ${args[0]} exited ${r.status}`);
    process.exit(1);
  }
  return r.stdout;
}

function kafkaRecord(i: number) {
  const value = i % 97 === 0 ? null : i % 89 === 0 ? Buffer.alloc(0) : Buffer.from(JSON.stringify({ order: i, amount: (i * 7.31).toFixed(2), note: 'x'.repeat(i % 50) }));
  const headers: Record<string, Buffer | Buffer[]> = { source: Buffer.from('demo'), trace: [Buffer.from(`t-${i}`), Buffer.from([0, 1, 2, i & 255])] };
  return { key: i % 10 === 0 ? Buffer.from([0xff, 0x00, i & 255]) : `customer-${i % 37}`, value, headers, timestamp: String(Date.UTC(2026, 10, 24, 12) + i * 1000) };
}

async function seedKafka(kafka: InstanceType<typeof kafkajs.Kafka>): Promise<void> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  for (let i = 0; i < KAFKA_RECORDS; i += 500) {
    const messages = Array.from({ length: Math.min(500, KAFKA_RECORDS - i) }, (_, j) => ({ ...kafkaRecord(i + j), partition: (i + j) % 4 }));
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
}

async function readKafka(kafka: InstanceType<typeof kafkajs.Kafka>, name: string, expected: number) {
  const consumer = kafka.consumer({ groupId: `demo-check-${name}`, sessionTimeout: 6000 });
  const seen: string[][] = [[], [], [], []];
  let n = 0;
  await consumer.connect();
  await consumer.subscribe({ topic: name, fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${n}/${expected} records of ${name}`)), 60_000);
    void consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        const h = Object.entries(message.headers ?? {}).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(';');
        seen[partition]!.push(`${message.key?.toString('hex')}|${message.value === null ? 'null' : message.value.toString('hex')}|${h}|${message.timestamp}`);
        if (++n === expected) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

async function seedRabbit(): Promise<void> {
  const conn = await amqp.connect(`${amqpBase}/%2F`, { noDelay: true });
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  for (let i = 0; i < AMQP_MESSAGES; i++) {
    ch.sendToQueue(queue, i % 5 === 0 ? Buffer.from([0, 159, 146, 150, i & 255]) : Buffer.from(`job ${i}`), {
      persistent: true,
      contentType: i % 5 === 0 ? 'application/octet-stream' : 'text/plain',
      messageId: `job-${i}`,
      correlationId: `c-${i % 11}`,
      priority: i % 3,
      timestamp: 1_764_000_000 + i,
      headers: { attempt: i % 4, tenant: 'acme', tags: ['a', 'b'] },
    });
  }
  await ch.waitForConfirms();
  await conn.close();
}

async function readRabbit(vh: string, name: string): Promise<string[]> {
  const conn = await amqp.connect(`${amqpBase}/${encodeURIComponent(vh)}`, { noDelay: true });
  const ch = await conn.createChannel();
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(name, { noAck: false });
    if (!m) break;
    const p = m.properties;
    out.push(`${m.content.toString('hex')}|${p.contentType}|${p.messageId}|${p.correlationId}|${p.priority}|${p.timestamp}|${JSON.stringify(p.headers)}`);
  }
  await ch.close(); // nothing acknowledged: the messages stay in the queue
  await conn.close();
  return out;
}

async function main(): Promise<void> {
  const kafka = new kafkajs.Kafka({ brokers: bootstrap.split(','), clientId: 'mqbak-demo', logLevel: kafkajs.logLevel.NOTHING });
  console.log(`== putting ${KAFKA_RECORDS} records in Kafka topic ${topic} (4 partitions; binary and text keys, tombstones, empty values, repeated headers)`);
  await seedKafka(kafka);
  console.log(`== putting ${AMQP_MESSAGES} messages in RabbitMQ queue ${queue} (properties, typed headers, binary bodies)`);
  await seedRabbit();
  const rabbitBefore = await readRabbit('/', queue);

  console.log(`\n== backing up to ${store}`);
  const kafkaId = (JSON.parse(mqbak('backup', `kafka://${bootstrap}`, store, '--topics', topic, '--json')) as { id: string }).id;
  const rabbitId = (JSON.parse(mqbak('backup', `${amqpBase}/%2F`, store, '--queues', queue, '--json')) as { id: string }).id;
  mqbak('verify', store);
  mqbak('list', store);

  console.log('\n== restoring under new names');
  const restoredTopic = `${topic}-restored`;
  const put = await fetch(`${mgmt}/api/vhosts/${encodeURIComponent(vhost)}`, { method: 'PUT', headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` } });
  if (!put.ok) throw new Error(`creating vhost ${vhost}: HTTP ${put.status}`);
  mqbak('restore', store, `kafka://${bootstrap}`, '--backup', kafkaId, '--topics', topic, '--map', `${topic}=${restoredTopic}`, '--offset-map', join(store, 'offset-map.jsonl'));
  mqbak('restore', store, `${amqpBase}/${encodeURIComponent(vhost)}`, '--backup', rabbitId, '--queues', queue, '--definitions', '--map', `${queue}=${queue}-restored`);

  console.log('\n== comparing what came back with what went in');
  const [src, dst] = [await readKafka(kafka, topic, KAFKA_RECORDS), await readKafka(kafka, restoredTopic, KAFKA_RECORDS)];
  const kafkaSame = JSON.stringify(src) === JSON.stringify(dst);
  console.log(`Kafka ${topic} -> ${restoredTopic}: ${KAFKA_RECORDS} records, partitions and order ${kafkaSame ? 'IDENTICAL' : 'DIFFERENT'}`);
  const rabbitAfter = await readRabbit(vhost, `${queue}-restored`);
  const rabbitSame = JSON.stringify(rabbitBefore) === JSON.stringify(rabbitAfter);
  console.log(`RabbitMQ ${queue} -> vhost ${vhost} queue ${queue}-restored: ${rabbitAfter.length} messages, bodies, properties and order ${rabbitSame ? 'IDENTICAL' : 'DIFFERENT'}`);
  const natsSame = await natsDemo(natsUrl, store, stamp, mqbak);
  console.log(`\nThe archive stays in ${store}; try: bin/mqbak show ${store} <id>   or   bin/mqbak cat ${store} <id> --limit 5`);
  if (!kafkaSame || !rabbitSame || !natsSame) process.exit(1);
}

main().catch((e: unknown) => {
  console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
