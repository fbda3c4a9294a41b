import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { schemeOf } from '../urls.js';

/** Sends `mqbak backup` to the Kafka or RabbitMQ implementation by the source URL's scheme. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [source = ''] = args;
  switch (schemeOf(source)) {
    case 'kafka':
      return (await import('./backup-kafka.js')).run(ctx, args, opts);
    case 'amqp':
      return (await import('./backup-rabbitmq.js')).run(ctx, args, opts);
    default:
      throw new MqbakError('usage', `backup source ${JSON.stringify(source)}: expected kafka://host:port or amqp://user:pass@host:port/vhost`);
  }
}
