/**
 * The broker adapter contract suites (test/contract/broker-contract.ts) run against the Kafka
 * adapter and the Kafka test broker: a new topic of 3 partitions read by offset ('log'); the sink
 * restores into a topic prepare() creates from the saved metadata. Records are produced with
 * kafkajs' producer and read back with kcat (librdkafka), neither of them mqbak's code.
 */
import { spawnSync } from 'node:child_process';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { brokerContract, valueOf, type BrokerFixture } from '../contract/broker-contract.js';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import type { ReadMode, StreamAddress } from '../../src/brokers/adapter.js';
import { adapter } from '../../src/brokers/kafka/index.js';

const PARTITIONS = 3;

/** Records from..from+count-1 spread over the partitions in turn, keyed k<i>, valued "<i>". */
async function produce(producer: Producer, topic: string, from: number, count: number): Promise<void> {
  const messages = Array.from({ length: count }, (_, j) => ({ partition: (from + j) % PARTITIONS, key: `k${from + j}`, value: Buffer.from(valueOf(from + j)) }));
  await producer.send({ topic, acks: -1, messages });
}

/** A partition's records in offset order, as librdkafka reads them (keys and values are short ASCII). */
function readBack(address: StreamAddress): Array<{ key: Uint8Array | null; value: Uint8Array | null }> {
  const c = spawnSync('kcat', ['-C', '-b', kafkaBrokers().join(','), '-t', String(address.topic), '-p', String(address.partition), '-o', 'beginning', '-e', '-q', '-f', '%K|%k|%S|%s\n'], { encoding: 'utf8' });
  if (c.status !== 0) throw new Error(`kcat: ${c.stderr}`);
  const field = (length: string, text: string) => (Number(length) < 0 ? null : Buffer.from(text, 'utf8'));
  return c.stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [kl, k, vl, v] = l.split('|') as [string, string, string, string];
      return { key: field(kl, k), value: field(vl, v) };
    });
}

brokerContract('kafka', async (): Promise<BrokerFixture> => {
  const url = `kafka://${kafkaBrokers().join(',')}`;
  const kafka = new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('contract'), logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  return {
    adapter,
    modes: ['log'],
    async source(_mode: ReadMode, records: number) {
      const topic = uniqueName('contract');
      await kafkaCreateTopic(topic, PARTITIONS);
      await produce(producer, topic, 0, records);
      let next = records;
      return {
        url,
        options: { topics: [topic] },
        streams: PARTITIONS,
        async append(n: number) {
          await produce(producer, topic, next, n);
          next += n;
        },
      };
    },
    async sink() {
      return { url, options: {}, name: uniqueName('contract-target'), readBack: async (address: StreamAddress) => readBack(address) };
    },
    sinkHasPositions: true,
    async cleanup() {
      await producer.disconnect();
    },
  };
});
