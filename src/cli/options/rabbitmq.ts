import type { Command } from 'commander';
import { commaList, positiveInt } from './common.js';

export function rabbitmqConnectionOptions(cmd: Command): Command {
  return cmd.option(
    '--management-url <url>',
    'RabbitMQ management API (default http://<host>:15672 with the AMQP credentials; env MQBAK_RABBITMQ_MANAGEMENT_URL)',
  );
}

export function rabbitmqBackupOptions(cmd: Command): Command {
  return cmd
    .option('--queues <a,b>', 'RabbitMQ: queues to back up', commaList)
    .option('--all-queues', 'RabbitMQ: back up every queue of the vhost')
    .option('--mode <mode>', 'RabbitMQ: mirror (default, non-destructive) or drain (removes what was archived)')
    .option('--max-messages <n>', 'RabbitMQ drain: stop after this many messages per queue', positiveInt)
    .option(
      '--accept-redelivery-risk',
      'RabbitMQ mirror: read quorum queues even where returning messages could reach their delivery limit',
    )
    .option('--include-users', 'RabbitMQ: keep users and password hashes in the saved definitions')
    .option(
      '--hold-timeout <seconds>',
      'RabbitMQ: longest time deliveries are held unacknowledged, well under consumer_timeout (default 600; env MQBAK_RABBITMQ_HOLD_TIMEOUT)',
      positiveInt,
    )
    .option(
      '--checkpoint <n>',
      'RabbitMQ drain: messages per committed checkpoint backup, acknowledged after its manifest is stored (default 20000, max 65535)',
      positiveInt,
    );
}

export function rabbitmqRestoreOptions(cmd: Command): Command {
  return cmd
    .option('--definitions', 'RabbitMQ: recreate saved exchanges, queues, bindings and policies first')
    .option('--via-exchange', 'RabbitMQ: publish to the original exchange and routing key instead of the queue');
}
