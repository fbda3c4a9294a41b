/**
 * The Kafka adapter: kafka://host:port[,host:port]; one archive stream per partition. kafkajs
 * (and everything that talks to a broker) is loaded only by openSource and openSink, so that
 * loading the adapter for --help stays fast. Imports only src/common and src/brokers/adapter.ts.
 */
import type { AdapterContext, AdapterOptionValues, BrokerAdapter, BrokerSink, BrokerSource, ReadBack, SinkPlan, StreamAddress } from '../adapter.js';
import { asKafkaAddress, describeAddress, kafkaAddress } from './address.js';
import { backupOptions, checkBackup, checkRestore, redactUrl, restoreOptions } from './options.js';
import { planNotes } from './restore-plan.js';

export const adapter: BrokerAdapter = {
  name: 'kafka',
  title: 'Kafka',
  schemes: ['kafka'],
  urlExample: 'kafka://host:port',
  streamNoun: 'partition',
  selectorNoun: 'topic',
  attributesKey: null,
  backupOptions,
  restoreOptions,
  checkBackup,
  checkRestore,
  redactUrl,
  describe: describeAddress,
  selectorOf: (address: StreamAddress) => asKafkaAddress(address).topic,
  renamed: (address: StreamAddress, newName: string) => kafkaAddress(newName, asKafkaAddress(address).partition),
  async openSource(url: string, options: AdapterOptionValues, ctx: AdapterContext): Promise<BrokerSource> {
    const { KafkaSource } = await import('./source.js');
    return KafkaSource.open(url, options, ctx);
  },
  async openSink(url: string, options: AdapterOptionValues, ctx: AdapterContext): Promise<BrokerSink> {
    const { KafkaSink } = await import('./sink.js');
    return KafkaSink.open(url, options, ctx);
  },
  async preload(role: 'source' | 'sink'): Promise<void> {
    await (role === 'source' ? import('./source.js') : import('./sink.js'));
  },
  restorePlanNotes: (plan: SinkPlan, options: AdapterOptionValues) => planNotes(plan, options),
  async readBack(plan: SinkPlan, options: AdapterOptionValues, env: AdapterContext['env']): Promise<ReadBack> {
    const { kafkaReadBack } = await import('./read-back.js');
    return kafkaReadBack(plan, options, env);
  },
};

export default adapter;
