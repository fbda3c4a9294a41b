import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { schemeOf } from '../urls.js';

/** Sends `mqbak restore` to the Kafka or RabbitMQ implementation by the target URL's scheme. */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [, target = ''] = args;
  switch (schemeOf(target)) {
    case 'kafka':
      return (await import('./restore-kafka.js')).run(ctx, args, opts);
    case 'amqp':
      return (await import('./restore-rabbitmq.js')).run(ctx, args, opts);
    default:
      throw new MqbakError('usage', `restore target ${JSON.stringify(target)}: expected kafka://host:port or amqp://user:pass@host:port/vhost`);
  }
}
