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
    .option('--offset-map <file>', 'write the source-to-target offset mapping as JSON lines to this file');
}

export { collect };
