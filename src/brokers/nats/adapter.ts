/**
 * The NATS JetStream adapter (docs/NATS.md): nats://[user:pass@]host:port[,host:port]; one
 * archive stream per JetStream stream, positions are stream sequences. The client
 * (@nats-io/transport-node, @nats-io/jetstream) is loaded only when a source or a sink connects
 * (connection.ts), and the source and sink modules only when opened, so loading this module for
 * `mqbak --help` stays cheap.
 */
import type { BrokerAdapter, SinkPlan, StreamAddress } from '../adapter.js';
import { asNatsAddress, checkStreamName, describeAddress, natsAddress } from './address.js';
import { BACKUP_OPTIONS, backupSettings, RESTORE_OPTIONS, restoreChoices, restoreSettings } from './options.js';
import { planNotes } from './restore-plan.js';
import { redactNatsUrl } from './url.js';

export const adapter: BrokerAdapter = {
  name: 'nats',
  title: 'NATS JetStream',
  schemes: ['nats', 'tls'],
  urlExample: 'nats://host:port',
  streamNoun: 'stream',
  selectorNoun: 'stream',
  attributesKey: 'nats',
  backupOptions: BACKUP_OPTIONS,
  restoreOptions: RESTORE_OPTIONS,
  checkBackup(url, options) {
    backupSettings(url, options);
  },
  checkRestore(url, options) {
    restoreSettings(url, options);
  },
  redactUrl: redactNatsUrl,
  describe: describeAddress,
  selectorOf: (address: StreamAddress) => asNatsAddress(address).stream,
  renamed(address: StreamAddress, newName: string): StreamAddress {
    asNatsAddress(address);
    checkStreamName(newName, '--map target');
    return natsAddress(newName);
  },
  async openSource(url, options, ctx) {
    const { NatsSource } = await import('./source.js');
    return NatsSource.open(url, backupSettings(url, options), ctx);
  },
  async openSink(url, options, ctx) {
    const { NatsSink } = await import('./sink.js');
    return NatsSink.open(url, restoreSettings(url, options), ctx);
  },
  async preload(role) {
    await (role === 'source' ? import('./source.js') : import('./sink.js'));
  },
  restorePlanNotes(plan: SinkPlan, options) {
    const s = restoreChoices(options);
    return planNotes(plan, { definitions: s.definitions, renameSubject: s.renameSubject });
  },
  async readBack(plan, options) {
    const { natsReadBack } = await import('./read-back.js');
    return natsReadBack(plan, options);
  },
};

export default adapter;
