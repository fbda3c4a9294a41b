/**
 * NATS URLs as mqbak takes them: nats://[user:pass@]host[:port][,host[:port]...] (tls:// for a
 * server that requires TLS). Several hosts are members of one cluster: the client picks one and
 * fails over to the others. A user without a password is a token (nats://TOKEN@host).
 */
import { MqbakError } from '../../common/errors.js';

export const DEFAULT_NATS_PORT = 4222;

export interface NatsTarget {
  /** host:port of each server, in the order given ([v6]:port for IPv6). */
  servers: string[];
  user: string | undefined;
  pass: string | undefined;
  /** A user name alone: NATS token authentication. */
  token: string | undefined;
  tls: boolean;
  /** The URL with its password or token replaced, safe to print and to store in a manifest. */
  redacted: string;
}

const USAGE_HINT = 'expected nats://[user:pass@]host[:port][,host[:port]...], e.g. nats://127.0.0.1:4222';

export function parseNatsUrl(url: string): NatsTarget {
  const redacted = redactNatsUrl(url);
  const bad = (why: string): MqbakError => new MqbakError('usage', `NATS URL ${redacted}: ${why}`, { hint: USAGE_HINT });
  const m = /^([a-z][a-z0-9+.-]*):\/\/(.*)$/i.exec(url.trim());
  if (!m) throw bad('not a URL');
  const scheme = m[1]!.toLowerCase();
  if (scheme !== 'nats' && scheme !== 'tls') throw bad(`unknown scheme ${scheme}:// (nats:// or tls://)`);
  let rest = m[2]!;
  // credentials end at the last "@" before the host list: a password may contain "@" if encoded,
  // and the host list itself never does
  let userinfo: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
  }
  if (rest === '') throw bad('no host');
  const servers = rest.split(',').map((h) => parseHostPort(h.trim(), bad));
  let user: string | undefined;
  let pass: string | undefined;
  let token: string | undefined;
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const decode = (s: string): string => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw bad('bad %-encoding in the user name or password');
      }
    };
    if (colon < 0) {
      token = decode(userinfo);
      if (token === '') throw bad('empty user or token before "@"');
    } else {
      user = decode(userinfo.slice(0, colon));
      pass = decode(userinfo.slice(colon + 1));
      if (user === '') throw bad('empty user name');
    }
  }
  return { servers, user, pass, token, tls: scheme === 'tls', redacted };
}

function parseHostPort(h: string, bad: (why: string) => MqbakError): string {
  // a scheme repeated on every member (nats://a:4222,nats://b:4222) is accepted too
  h = h.replace(/^(nats|tls):\/\//i, '').replace(/\/$/, '');
  if (/[/?#]/.test(h)) throw bad('a NATS URL has no path, query or fragment (streams are chosen with --streams)');
  if (h === '') throw bad('no host');
  let host: string;
  let port: string | undefined;
  const v6 = /^\[([0-9a-f:.]+)\](?::(\d*))?$/i.exec(h);
  if (v6) {
    host = `[${v6[1]}]`;
    port = v6[2];
  } else {
    const parts = h.split(':');
    if (parts.length > 2) throw bad(`bad host ${JSON.stringify(h)} (write an IPv6 address in brackets)`);
    host = parts[0]!;
    port = parts[1];
    if (!/^[a-z0-9]([a-z0-9._-]*[a-z0-9])?$/i.test(host)) throw bad(`bad host ${JSON.stringify(h)}`);
  }
  let n = DEFAULT_NATS_PORT;
  if (port !== undefined) {
    if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw bad(`bad port in ${JSON.stringify(h)}`);
    n = Number(port);
  }
  return `${host}:${n}`;
}

/** The URL with the password (user:pass@) or token (token@) replaced by ***. */
export function redactNatsUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)(.*)@/i, (_all, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return colon < 0 ? `${scheme}***@` : `${scheme}${userinfo.slice(0, colon)}:***@`;
  });
}
