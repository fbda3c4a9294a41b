/**
 * Kafka's command-line options and environment variables, and every check that can be made of
 * them and of the kafka:// URL before connecting (a bad one is a 'usage' error, exit 2).
 * Secrets are better given by environment: the SASL password only comes from there.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AdapterContext, AdapterOption, AdapterOptionValues } from '../adapter.js';
import { MqbakError, messageOf } from '../../common/errors.js';
import type { KafkaConnection, SaslMechanism } from './client.js';

export type Env = AdapterContext['env'];

const connectionOptions: readonly AdapterOption[] = [
  { flags: '--client-id <id>', description: 'Kafka client id (env MQBAK_KAFKA_CLIENT_ID; default mqbak)', env: 'MQBAK_KAFKA_CLIENT_ID' },
  { flags: '--sasl-mechanism <m>', description: 'Kafka SASL: plain, scram-sha-256 or scram-sha-512 (env MQBAK_KAFKA_SASL_MECHANISM)', env: 'MQBAK_KAFKA_SASL_MECHANISM' },
  { flags: '--sasl-username <user>', description: 'Kafka SASL user name (env MQBAK_KAFKA_SASL_USERNAME)', env: 'MQBAK_KAFKA_SASL_USERNAME' },
  { flags: '--sasl-password-env <var>', description: 'read the Kafka SASL password from this environment variable (default MQBAK_KAFKA_SASL_PASSWORD)' },
  { flags: '--tls', description: 'connect to Kafka with TLS (env MQBAK_KAFKA_TLS=1)', kind: 'flag' },
  { flags: '--tls-ca <file>', description: 'PEM file of CA certificates to trust (env MQBAK_KAFKA_TLS_CA)', env: 'MQBAK_KAFKA_TLS_CA' },
  // no `env` for the CLI to fill: MQBAK_KAFKA_TLS_CERT alone does not turn TLS on, --tls-cert does
  { flags: '--tls-cert <file>', description: 'PEM client certificate (env MQBAK_KAFKA_TLS_CERT)' },
  { flags: '--tls-key <file>', description: 'PEM client key (env MQBAK_KAFKA_TLS_KEY)', env: 'MQBAK_KAFKA_TLS_KEY' },
  { flags: '--tls-insecure', description: 'do not verify the broker certificate (testing only)', kind: 'flag' },
];

export const backupOptions: readonly AdapterOption[] = [
  ...connectionOptions,
  { flags: '--topics <a,b>', description: 'Kafka: topics to back up (all partitions)', kind: 'list' },
  { flags: '--topic-regex <re>', description: 'Kafka: back up every topic whose name matches this regular expression' },
  { flags: '--groups <g1,g2>', description: 'Kafka: consumer groups whose committed offsets are saved (default: all groups on those topics)', kind: 'list' },
  { flags: '--isolation <level>', description: 'Kafka: read_committed (default) or read_uncommitted', choices: ['read_committed', 'read_uncommitted'] },
];

export const restoreOptions: readonly AdapterOption[] = [
  ...connectionOptions,
  { flags: '--groups <g1,g2>', description: 'Kafka: consumer groups whose offsets are translated and committed on the target', kind: 'list' },
  { flags: '--all-groups', description: 'Kafka: translate every consumer group saved in the backup', kind: 'flag' },
  { flags: '--allow-nonempty', description: 'Kafka: restore into target partitions that already hold data', kind: 'flag' },
  {
    flags: '--repartition',
    description:
      "Kafka: place each record as Kafka's default partitioner would on the target (murmur2 of the key modulo the target's partition count; a record without a key: its source partition modulo the count), for a target with another partition count, e.g. --repartition --partitions 12",
    kind: 'flag',
  },
  { flags: '--partitions <n>', description: 'Kafka, with --repartition: the target topics have n partitions (created so when missing; an existing one with another count is refused)', kind: 'positive-int' },
];

/** A URL fit to print and store: the password replaced by ***, the user kept. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2:***@');
}

/** The port a broker without one gets: Kafka's usual listener port, as kcat and the Kafka tools assume. */
export const DEFAULT_KAFKA_PORT = 9092;

/**
 * The bootstrap brokers of kafka://host[:port][,host[:port]], each as host:port: a broker
 * without a port gets 9092; a port must be a number from 1 to 65535 (an empty one, `host:`, is
 * refused as a typo). IPv6 addresses go in brackets.
 */
export function parseBrokers(url: string): string[] {
  const m = /^kafka:\/\/(?:[^@/]*@)?([^/?#]*)\/?$/i.exec(url.trim());
  if (!m) {
    const hint = /^kafka:\/\/[^/?#]*[/?#]./i.test(url) ? 'a Kafka URL has no path or query: topics are chosen with --topics' : 'credentials go in --sasl-username and MQBAK_KAFKA_SASL_PASSWORD, not in the URL';
    throw new MqbakError('usage', `${redactUrl(url)}: expected kafka://host:port[,host:port]`, { hint });
  }
  const brokers = m[1]!.split(',').map((b) => b.trim()).filter(Boolean);
  if (brokers.length === 0) throw new MqbakError('usage', `${redactUrl(url)}: expected kafka://host:port[,host:port]`);
  return brokers.map(brokerOf);
}

/** One broker of the list: host, host:port, [v6] or [v6]:port, as host:port. */
function brokerOf(b: string): string {
  const hp = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::([^:]*))?$/i.exec(b);
  if (!hp) throw new MqbakError('usage', `kafka broker "${b}": expected host:port`, { hint: 'write an IPv6 address in brackets, e.g. kafka://[::1]:9092' });
  const host = hp[1]!;
  if (!host.startsWith('[') && !/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/i.test(host)) throw new MqbakError('usage', `kafka broker "${b}": bad host name`);
  const port = hp[2];
  if (port === undefined) return `${host}:${DEFAULT_KAFKA_PORT}`;
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new MqbakError('usage', `kafka broker "${b}": port ${port === '' ? '(empty)' : port} is not a number from 1 to 65535`, {
      hint: `leave the port out for ${DEFAULT_KAFKA_PORT}`,
    });
  }
  return `${host}:${Number(port)}`;
}

/** One string option: the command line first, then the environment variable. */
function stringOption(options: AdapterOptionValues, key: string, env: Env, variable?: string): string | undefined {
  const v = options[key];
  if (v !== undefined && v !== null && v !== false) return String(v);
  return variable === undefined ? undefined : env[variable];
}

/** Connection settings without reading any file: every mistake a usage error before connecting. */
function connectionSettings(url: string, options: AdapterOptionValues, env: Env) {
  const brokers = parseBrokers(url);
  const clientId = stringOption(options, 'clientId', env, 'MQBAK_KAFKA_CLIENT_ID') ?? 'mqbak';
  const mech = stringOption(options, 'saslMechanism', env, 'MQBAK_KAFKA_SASL_MECHANISM')?.toLowerCase();
  let sasl: KafkaConnection['sasl'];
  if (mech) {
    if (mech !== 'plain' && mech !== 'scram-sha-256' && mech !== 'scram-sha-512') throw new MqbakError('usage', `--sasl-mechanism ${mech}: expected plain, scram-sha-256 or scram-sha-512`);
    const username = stringOption(options, 'saslUsername', env, 'MQBAK_KAFKA_SASL_USERNAME');
    const passwordVariable = stringOption(options, 'saslPasswordEnv', env) ?? 'MQBAK_KAFKA_SASL_PASSWORD';
    const password = env[passwordVariable];
    if (!username) throw new MqbakError('usage', 'SASL needs a user name (--sasl-username or MQBAK_KAFKA_SASL_USERNAME)');
    if (password === undefined) throw new MqbakError('usage', `SASL needs a password in the environment variable ${passwordVariable}`);
    sasl = { mechanism: mech as SaslMechanism, username, password };
  } else {
    // given on the command line (not only in the environment) and without a mechanism: ignored otherwise
    if (options.saslPasswordEnv !== undefined) throw new MqbakError('usage', '--sasl-password-env needs --sasl-mechanism');
    if (options.saslUsername !== undefined && options.saslUsername !== env.MQBAK_KAFKA_SASL_USERNAME) throw new MqbakError('usage', '--sasl-username needs --sasl-mechanism');
  }
  const ca = stringOption(options, 'tlsCa', env, 'MQBAK_KAFKA_TLS_CA');
  const cert = stringOption(options, 'tlsCert', env, 'MQBAK_KAFKA_TLS_CERT');
  const key = stringOption(options, 'tlsKey', env, 'MQBAK_KAFKA_TLS_KEY');
  const tlsOn = Boolean(options.tls) || env.MQBAK_KAFKA_TLS === '1' || ca !== undefined || options.tlsCert !== undefined;
  if (!tlsOn && options.tlsInsecure) throw new MqbakError('usage', '--tls-insecure needs TLS (--tls)');
  if (!tlsOn && options.tlsKey !== undefined && options.tlsKey !== env.MQBAK_KAFKA_TLS_KEY) throw new MqbakError('usage', '--tls-key needs --tls-cert');
  if (tlsOn) for (const [path, flag] of [[ca, '--tls-ca'], [cert, '--tls-cert'], [key, '--tls-key']] as const) if (path !== undefined) readableFile(path, flag);
  if (tlsOn && (cert === undefined) !== (key === undefined)) {
    throw new MqbakError('usage', cert === undefined ? '--tls-key (MQBAK_KAFKA_TLS_KEY) needs --tls-cert' : '--tls-cert needs --tls-key (or MQBAK_KAFKA_TLS_KEY)');
  }
  const tls = tlsOn ? { ca, cert, key, rejectUnauthorized: !options.tlsInsecure } : undefined;
  return { brokers, clientId, sasl, tls };
}

/** A file named by an option must be there and readable before anything connects. */
function readableFile(path: string, flag: string): void {
  try {
    if (!statSync(path).isFile()) throw new MqbakError('usage', `${flag} ${path}: not a file`);
    accessSync(path, constants.R_OK);
  } catch (e) {
    if (e instanceof MqbakError) throw e;
    throw new MqbakError('usage', `${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? messageOf(e)})`);
  }
}

/** The connection: the settings checked again and the TLS files read. */
export async function connectionFrom(url: string, options: AdapterOptionValues, env: Env, ctx: { progress: KafkaConnection['progress']; debug: boolean; signal?: AbortSignal }): Promise<KafkaConnection> {
  const s = connectionSettings(url, options, env);
  const file = async (path: string | undefined, what: string) => {
    if (path === undefined) return undefined;
    try {
      return await readFile(path, 'utf8');
    } catch (e) {
      throw new MqbakError('usage', `${what} ${path}: ${messageOf(e)}`);
    }
  };
  const tls = s.tls && { ca: await file(s.tls.ca, '--tls-ca'), cert: await file(s.tls.cert, '--tls-cert'), key: await file(s.tls.key, '--tls-key'), rejectUnauthorized: s.tls.rejectUnauthorized };
  return { brokers: s.brokers, clientId: s.clientId, sasl: s.sasl, tls, progress: ctx.progress, debug: ctx.debug, signal: ctx.signal };
}

export type Isolation = 'read_committed' | 'read_uncommitted';
export type KafkaReaderKind = 'fetch' | 'kafkajs';
export type KafkaProducerKind = 'batch' | 'kafkajs';

/** restore --repartition: null without it; else the --partitions count, or null to take the target's (or the source's). */
export function repartitionOf(options: AdapterOptionValues): { partitions: number | null } | null {
  if (!options.repartition) return null;
  return { partitions: typeof options.partitions === 'number' ? options.partitions : null };
}

export function isolationOf(options: AdapterOptionValues): Isolation {
  const isolation = (options.isolation as string | undefined) ?? 'read_committed';
  if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') throw new MqbakError('usage', `--isolation ${isolation}: expected read_committed or read_uncommitted`);
  return isolation;
}

/** MQBAK_KAFKA_CONSUMER=kafkajs reads through kafkajs' consumer instead of mqbak's own Fetch reader. */
export function readerKind(env: Env): KafkaReaderKind {
  const v = env.MQBAK_KAFKA_CONSUMER;
  if (v === undefined || v === '' || v === 'fetch') return 'fetch';
  if (v === 'kafkajs') return 'kafkajs';
  throw new MqbakError('usage', `MQBAK_KAFKA_CONSUMER=${v}: expected fetch or kafkajs`);
}

/** MQBAK_KAFKA_PRODUCER=kafkajs restores through kafkajs' producer instead of mqbak's own. */
export function producerKind(env: Env): KafkaProducerKind {
  const v = env.MQBAK_KAFKA_PRODUCER;
  if (v === undefined || v === '' || v === 'batch') return 'batch';
  if (v === 'kafkajs') return 'kafkajs';
  throw new MqbakError('usage', `MQBAK_KAFKA_PRODUCER=${v}: expected batch or kafkajs`);
}

/** A comma list option as the CLI hands it (already split, or one string). */
export function listOption(options: AdapterOptionValues, key: string): string[] | undefined {
  const v = options[key];
  if (v === undefined || v === null) return undefined;
  const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
  return items.map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The topics named on the command line (--streams, or its alias --topics). */
export function namedTopics(options: AdapterOptionValues): string[] | undefined {
  return listOption(options, 'streams') ?? listOption(options, 'topics');
}

export function topicRegexOf(options: AdapterOptionValues): RegExp | null {
  const source = options.topicRegex;
  if (source === undefined || source === null) return null;
  try {
    return new RegExp(String(source));
  } catch {
    throw new MqbakError('usage', `--topic-regex ${String(source)}: not a valid regular expression`);
  }
}

export function checkBackup(url: string, options: AdapterOptionValues, env: Env): void {
  const topics = namedTopics(options);
  if ((!topics || topics.length === 0) && options.topicRegex === undefined) throw new MqbakError('usage', 'no topics given', { hint: 'name them with --topics a,b or --topic-regex' });
  isolationOf(options);
  topicRegexOf(options);
  connectionSettings(url, options, env);
  readerKind(env);
}

export function checkRestore(url: string, options: AdapterOptionValues, env: Env): void {
  if (listOption(options, 'groups') && options.allGroups) throw new MqbakError('usage', '--groups and --all-groups exclude each other');
  if (options.partitions !== undefined && !options.repartition) {
    throw new MqbakError('usage', '--partitions needs --repartition', { hint: 'without --repartition each partition is restored into the partition of the same number' });
  }
  if (options.repartition && (listOption(options, 'groups') || options.allGroups)) {
    throw new MqbakError('usage', `--repartition cannot translate consumer group offsets (${options.allGroups ? '--all-groups' : '--groups'})`, {
      hint: "a group's committed offset in one source partition has no single place among the target partitions; restore without the group option and let consumers start from the offset map",
    });
  }
  connectionSettings(url, options, env);
  producerKind(env);
}

