/** AMQP URLs as RabbitMQ reads them, and as mqbak prints and stores them (without the password). */
import { MqbakError } from '../../common/errors.js';

export interface AmqpTarget {
  /** amqp(s)://user:pass@host:port/vhost as the user gave it. */
  url: string;
  user: string;
  host: string;
  port: number;
  vhost: string;
  tls: boolean;
}

/** Parses an AMQP URL the way RabbitMQ does: vhost is the path, URL-decoded; empty path = "/". */
export function parseAmqpUrl(url: string): AmqpTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MqbakError('usage', `not a valid AMQP URL: ${redactAmqpUrl(url)}`, {
      hint: 'expected amqp://user:pass@host:port/vhost (vhost "/" is %2F)',
    });
  }
  const tls = u.protocol === 'amqps:';
  if (u.protocol !== 'amqp:' && !tls) throw new MqbakError('usage', `not an AMQP URL: ${redactAmqpUrl(url)}`);
  const path = u.pathname.replace(/^\//, '');
  if (path.includes('/')) {
    throw new MqbakError('usage', `AMQP URL ${redactAmqpUrl(url)}: a vhost with "/" must be URL-encoded`, {
      hint: 'the vhost "/" is written %2F, e.g. amqp://guest:guest@localhost:5672/%2F',
    });
  }
  return {
    url,
    user: u.username ? decodeURIComponent(u.username) : 'guest',
    host: u.hostname,
    port: u.port ? Number(u.port) : tls ? 5671 : 5672,
    vhost: path === '' ? '/' : decodeURIComponent(path),
    tls,
  };
}

export function redactAmqpUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2@');
}
