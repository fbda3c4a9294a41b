// Baseline: a plain kafkajs group consumer that only reads (eachBatch, no writing) until it has
// seen `count` records. usage: kafkajs-consume.ts <brokers> <topic> <count>
import { Kafka, logLevel } from 'kafkajs';

const [brokers, topic, countArg] = process.argv.slice(2);
if (!brokers || !topic || !countArg) throw new Error('usage: kafkajs-consume.ts <brokers> <topic> <count>');
const count = Number(countArg);
const kafka = new Kafka({ clientId: 'bench-consume', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
const consumer = kafka.consumer({ groupId: `bench-${process.pid}-${Date.now()}`, sessionTimeout: 10_000, rebalanceTimeout: 10_000 });
await consumer.connect();
await consumer.subscribe({ topic, fromBeginning: true });
let seen = 0;
let bytes = 0;
await new Promise<void>((resolve, reject) => {
  consumer
    .run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) bytes += (m.value?.length ?? 0) + (m.key?.length ?? 0);
        seen += batch.messages.length;
        if (seen >= count) resolve();
      },
    })
    .catch(reject);
});
await consumer.disconnect();
process.stdout.write(JSON.stringify({ consumed: seen, bytes }) + '\n');
process.exit(0);
