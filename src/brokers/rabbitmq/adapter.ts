/**
 * The RabbitMQ adapter (docs/RABBITMQ.md): AMQP 0-9-1 through amqplib, and the management HTTP
 * API for queue discovery, policies and definitions. amqplib is imported only when a source or a
 * sink connects (connection.ts), and the source and sink modules only when opened, so loading
 * this module for `mqbak --help` stays cheap.
 */
import type { BrokerAdapter, SinkPlan, StreamAddress } from '../adapter.js';
import { redactAmqpUrl } from './amqp-url.js';
import { BACKUP_OPTIONS, backupSettings, RESTORE_OPTIONS, restoreSettings } from './options.js';
import { addressOf } from './address.js';

export const adapter: BrokerAdapter = {
  name: 'rabbitmq',
  title: 'RabbitMQ',
  schemes: ['amqp', 'amqps'],
  urlExample: 'amqp://user:pass@host:port/vhost',
  streamNoun: 'queue',
  selectorNoun: 'queue',
  attributesKey: 'amqp',
  backupOptions: BACKUP_OPTIONS,
  restoreOptions: RESTORE_OPTIONS,
  checkBackup(url, options, env) {
    backupSettings(url, options, env);
  },
  checkRestore(url, options, env) {
    restoreSettings(url, options, env);
  },
  redactUrl: redactAmqpUrl,
  describe(address: StreamAddress): string {
    return `queue ${addressOf(address).queue}`;
  },
  selectorOf(address: StreamAddress): string {
    return addressOf(address).queue;
  },
  renamed(address: StreamAddress, newName: string): StreamAddress {
    return { ...address, queue: newName };
  },
  async openSource(url, options, ctx) {
    const { RabbitSource } = await import('./backup-source.js');
    return new RabbitSource(url, backupSettings(url, options, ctx.env), ctx);
  },
  async openSink(url, options, ctx) {
    const { RabbitSink } = await import('./restore-sink.js');
    return RabbitSink.open(url, restoreSettings(url, options, ctx.env), ctx);
  },
  async preload(role) {
    await (role === 'source' ? import('./backup-source.js') : import('./restore-sink.js'));
  },
  restorePlanNotes(_plan: SinkPlan, options) {
    const lines: string[] = [];
    if (options.definitions) lines.push('definitions: the saved exchanges, queues, bindings and policies would be recreated first');
    if (options.viaExchange) lines.push('messages would be published to their original exchange and routing key');
    return { lines, json: { definitions: null, userIdDropped: 0, headersRenamed: 0, routingHeadersRenamed: 0 } };
  },
  async readBack(plan, options, env) {
    const { rabbitReadBack } = await import('./read-back.js');
    return rabbitReadBack(plan, options, env);
  },
};

export default adapter;
