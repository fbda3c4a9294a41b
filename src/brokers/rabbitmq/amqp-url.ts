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

const URL_HINT = 'expected amqp://user:pass@host:port/vhost (vhost "/" is %2F)';

/**
 * Parses an AMQP URL the way RabbitMQ does: vhost is the path, URL-decoded; empty path = "/".
 * Without a port: 5672 (amqps: 5671). A port that is empty (`host:`), not a number or outside
 * 1..65535, a missing host and bad %-encoding are usage errors, found without connecting.
 */
export function parseAmqpUrl(url: string): AmqpTarget {
  const shown = redactAmqpUrl(url);
  checkAuthority(url, shown);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MqbakError('usage', `not a valid AMQP URL: ${shown}`, { hint: URL_HINT });
  }
  const tls = u.protocol === 'amqps:';
  if (u.protocol !== 'amqp:' && !tls) throw new MqbakError('usage', `not an AMQP URL: ${shown}`);
  const path = u.pathname.replace(/^\//, '');
  if (path.includes('/')) {
    throw new MqbakError('usage', `AMQP URL ${shown}: a vhost with "/" must be URL-encoded`, {
      hint: 'the vhost "/" is written %2F, e.g. amqp://guest:guest@localhost:5672/%2F',
    });
  }
  const decode = (s: string, what: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new MqbakError('usage', `AMQP URL ${shown}: bad %-encoding in the ${what}`, { hint: URL_HINT });
    }
  };
  return {
    url,
    user: u.username ? decode(u.username, 'user name') : 'guest',
    host: u.hostname,
    port: u.port ? Number(u.port) : tls ? 5671 : 5672,
    vhost: path === '' ? '/' : decode(path, 'vhost'),
    tls,
  };
}

/** The host and port between "//" (after any user:pass@) and the path, checked before URL parsing blurs them. */
function checkAuthority(url: string, shown: string): void {
  const m = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(url);
  if (!m) return; // not even a URL: new URL() says so
  const hostPort = m[1]!.slice(m[1]!.lastIndexOf('@') + 1);
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort)!;
  if (hp[1] === '') throw new MqbakError('usage', `AMQP URL ${shown}: no host`, { hint: URL_HINT });
  const port = hp[2];
  if (port !== undefined && (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535)) {
    throw new MqbakError('usage', `AMQP URL ${shown}: port ${port === '' ? '(empty)' : port} is not a number from 1 to 65535`, {
      hint: 'leave the port out for 5672 (amqps: 5671)',
    });
  }
}

export function redactAmqpUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2@');
}
