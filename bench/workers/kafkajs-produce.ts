// Baseline (and seeder): a plain kafkajs producer, acks -1 and idempotent, publishing the data
// file's records (key, value, headers) with the default partitioner (by key).
// usage: kafkajs-produce.ts <brokers> <topic> <data-file> [batch]
import { Kafka, logLevel } from 'kafkajs';
import { readDataFile } from '../lib/data.js';

const [brokers, topic, file, batchArg] = process.argv.slice(2);
if (!brokers || !topic || !file) throw new Error('usage: kafkajs-produce.ts <brokers> <topic> <data-file> [batch]');
const batch = Number(batchArg ?? 2000);
const kafka = new Kafka({ clientId: 'bench-produce', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
await producer.connect();
let n = 0;
for (const recs of readDataFile(file, batch)) {
  await producer.send({
    topic,
    acks: -1,
    messages: recs.map((r) => ({ key: r.key, value: r.value, headers: Object.fromEntries(r.headers) })),
  });
  n += recs.length;
}
await producer.disconnect();
process.stdout.write(JSON.stringify({ produced: n }) + '\n');
