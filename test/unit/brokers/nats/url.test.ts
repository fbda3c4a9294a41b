/**
 * NATS URLs (src/brokers/nats/url.ts): servers with their default port, credentials, and every
 * malformed host or port a usage error found without connecting.
 */
import { describe, expect, it } from 'vitest';
import { parseNatsUrl, redactNatsUrl } from '../../../../src/brokers/nats/url.js';
import { usage } from '../../../helpers/usage-error.js';

describe('NATS URL', () => {
  it('servers as host:port, 4222 when the port is left out; tls:// for TLS', () => {
    expect(parseNatsUrl('nats://h').servers).toEqual(['h:4222']);
    expect(parseNatsUrl('nats://a:1,b,nats://c:3').servers).toEqual(['a:1', 'b:4222', 'c:3']);
    expect(parseNatsUrl('nats://[::1]').servers).toEqual(['[::1]:4222']);
    expect(parseNatsUrl('tls://h:4443')).toMatchObject({ servers: ['h:4443'], tls: true });
  });

  it('user and password, or a token', () => {
    expect(parseNatsUrl('nats://u:p%40ss@h:1')).toMatchObject({ user: 'u', pass: 'p@ss', token: undefined });
    expect(parseNatsUrl('nats://tok@h:1')).toMatchObject({ token: 'tok', user: undefined });
    expect(redactNatsUrl('nats://u:secret@h:1')).toBe('nats://u:***@h:1');
    expect(redactNatsUrl('nats://secret@h:1')).toBe('nats://***@h:1');
  });

  it('refuses a bad, empty or out-of-range port', () => {
    expect(usage(() => parseNatsUrl('nats://h:99999'))).toMatch(/bad port in "h:99999"/);
    expect(usage(() => parseNatsUrl('nats://h:abc'))).toMatch(/bad port/);
    expect(usage(() => parseNatsUrl('nats://h:'))).toMatch(/bad port in "h:"/);
    expect(usage(() => parseNatsUrl('nats://h:0'))).toMatch(/bad port/);
    expect(usage(() => parseNatsUrl('nats://a:1,b:70000'))).toMatch(/bad port in "b:70000"/);
  });

  it('refuses no host, a bad host, a path, an unknown scheme, bad %-encoding; the password never shows', () => {
    expect(usage(() => parseNatsUrl('nats://'))).toMatch(/no host/);
    expect(usage(() => parseNatsUrl('nats://a,,b'))).toMatch(/no host/);
    expect(usage(() => parseNatsUrl('nats://ho st:1'))).toMatch(/bad host/);
    expect(usage(() => parseNatsUrl('nats://a:1:2'))).toMatch(/IPv6 address in brackets/);
    expect(usage(() => parseNatsUrl('nats://h:1/STREAM'))).toMatch(/no path/);
    expect(usage(() => parseNatsUrl('http://h:1'))).toMatch(/unknown scheme http/);
    expect(usage(() => parseNatsUrl('nats://u:%zz@h:1'))).toMatch(/bad %-encoding/);
    expect(usage(() => parseNatsUrl('nats://u:secret@h:99999'))).not.toContain('secret');
  });
});
