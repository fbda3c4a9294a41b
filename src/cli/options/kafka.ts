import type { Command } from 'commander';
import { commaList, collect } from './common.js';

/** Connection options for kafka:// sources and targets. Secrets are better given by environment. */
export function kafkaConnectionOptions(cmd: Command): Command {
  return cmd
    .option('--client-id <id>', 'Kafka client id (env MQBAK_KAFKA_CLIENT_ID; default mqbak)')
    .option('--sasl-mechanism <m>', 'Kafka SASL: plain, scram-sha-256 or scram-sha-512 (env MQBAK_KAFKA_SASL_MECHANISM)')
    .option('--sasl-username <user>', 'Kafka SASL user name (env MQBAK_KAFKA_SASL_USERNAME)')
    .option('--sasl-password-env <var>', 'read the Kafka SASL password from this environment variable (default MQBAK_KAFKA_SASL_PASSWORD)')
    .option('--tls', 'connect to Kafka with TLS (env MQBAK_KAFKA_TLS=1)')
    .option('--tls-ca <file>', 'PEM file of CA certificates to trust (env MQBAK_KAFKA_TLS_CA)')
    .option('--tls-cert <file>', 'PEM client certificate (env MQBAK_KAFKA_TLS_CERT)')
    .option('--tls-key <file>', 'PEM client key (env MQBAK_KAFKA_TLS_KEY)')
    .option('--tls-insecure', 'do not verify the broker certificate (testing only)');
}

export function kafkaBackupOptions(cmd: Command): Command {
  return cmd
    .option('--topics <a,b>', 'Kafka: topics to back up (all partitions)', commaList)
    .option('--topic-regex <re>', 'Kafka: back up every topic whose name matches this regular expression')
    .option('--groups <g1,g2>', 'Kafka: consumer groups whose committed offsets are saved (default: all groups on those topics)', commaList)
    .option('--isolation <level>', 'Kafka: read_committed (default) or read_uncommitted');
}

export function kafkaRestoreOptions(cmd: Command): Command {
  return cmd
    .option('--groups <g1,g2>', 'Kafka: consumer groups whose offsets are translated and committed on the target', commaList)
    .option('--all-groups', 'Kafka: translate every consumer group saved in the backup')
    .option('--allow-nonempty', 'Kafka: restore into target partitions that already hold data')
    .option('--offset-map <file>', 'write the source-to-target offset mapping as JSON lines to this file')
    .option('--journal <file>', 'Kafka: restore journal used to resume an interrupted restore (env MQBAK_RESTORE_JOURNAL; default under $XDG_STATE_HOME/mqbak/restores/)');
}

export { collect };

/** Connection settings from options, then MQBAK_KAFKA_* environment variables. */
export async function kafkaConnectionFrom(
  url: string,
  opts: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Promise<{ brokers: string[]; clientId: string; sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string }; tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean } }> {
  const { MqbakError } = await import('../../common/errors.js');
  const { readFile } = await import('node:fs/promises');
  const m = /^kafka:\/\/(?:[^@/]*@)?([^/?#]+)\/?$/i.exec(url);
  if (!m) throw new MqbakError('usage', 'expected kafka://host:port[,host:port]', { hint: 'credentials go in --sasl-username and MQBAK_KAFKA_SASL_PASSWORD, not in the URL' });
  const brokers = m[1]!.split(',').map((b) => b.trim()).filter(Boolean);
  const clientId = (opts.clientId as string | undefined) ?? env.MQBAK_KAFKA_CLIENT_ID ?? 'mqbak';
  const mech = ((opts.saslMechanism as string | undefined) ?? env.MQBAK_KAFKA_SASL_MECHANISM)?.toLowerCase();
  let sasl;
  if (mech) {
    if (mech !== 'plain' && mech !== 'scram-sha-256' && mech !== 'scram-sha-512') throw new MqbakError('usage', `--sasl-mechanism ${mech}: expected plain, scram-sha-256 or scram-sha-512`);
    const username = (opts.saslUsername as string | undefined) ?? env.MQBAK_KAFKA_SASL_USERNAME;
    const pwVar = (opts.saslPasswordEnv as string | undefined) ?? 'MQBAK_KAFKA_SASL_PASSWORD';
    const password = env[pwVar];
    if (!username) throw new MqbakError('usage', 'SASL needs a user name (--sasl-username or MQBAK_KAFKA_SASL_USERNAME)');
    if (password === undefined) throw new MqbakError('usage', `SASL needs a password in the environment variable ${pwVar}`);
    sasl = { mechanism: mech, username, password } as const;
  }
  const tlsOn = Boolean(opts.tls) || env.MQBAK_KAFKA_TLS === '1' || Boolean(opts.tlsCa ?? opts.tlsCert ?? env.MQBAK_KAFKA_TLS_CA);
  let tls;
  if (tlsOn) {
    const file = async (v: unknown, what: string) => {
      if (v === undefined) return undefined;
      try {
        return await readFile(String(v), 'utf8');
      } catch (e) {
        throw new MqbakError('usage', `${what} ${String(v)}: ${(e as Error).message}`);
      }
    };
    tls = {
      ca: await file(opts.tlsCa ?? env.MQBAK_KAFKA_TLS_CA, '--tls-ca'),
      cert: await file(opts.tlsCert ?? env.MQBAK_KAFKA_TLS_CERT, '--tls-cert'),
      key: await file(opts.tlsKey ?? env.MQBAK_KAFKA_TLS_KEY, '--tls-key'),
      rejectUnauthorized: !opts.tlsInsecure,
    };
  }
  return { brokers, clientId, sasl, tls };
}
