/**
 * AMQP URLs (src/brokers/rabbitmq/amqp-url.ts): default ports, and every malformed host, port or
 * %-encoding a usage error found without connecting.
 */
import { describe, expect, it } from 'vitest';
import { parseAmqpUrl } from '../../../../src/brokers/rabbitmq/amqp-url.js';
import { managementFrom } from '../../../../src/brokers/rabbitmq/options.js';
import { usage } from '../../../helpers/usage-error.js';

describe('AMQP URL', () => {
  it('without a port: 5672, amqps 5671; IPv6 in brackets; a leading zero is the same port', () => {
    expect(parseAmqpUrl('amqp://h/v')).toMatchObject({ host: 'h', port: 5672, vhost: 'v', tls: false });
    expect(parseAmqpUrl('amqps://u:p@h')).toMatchObject({ port: 5671, user: 'u', vhost: '/', tls: true });
    expect(parseAmqpUrl('amqp://[::1]:5673/%2F')).toMatchObject({ host: '[::1]', port: 5673, vhost: '/' });
    expect(parseAmqpUrl('amqp://h:05672/')).toMatchObject({ port: 5672 });
  });

  it('refuses an empty, non-numeric or out-of-range port and names it', () => {
    expect(usage(() => parseAmqpUrl('amqp://h:99999/v'))).toBe('AMQP URL amqp://h:99999/v: port 99999 is not a number from 1 to 65535');
    expect(usage(() => parseAmqpUrl('amqp://h:abc'))).toMatch(/port abc is not a number/);
    expect(usage(() => parseAmqpUrl('amqp://u:p@h:/v'))).toMatch(/port \(empty\)/);
    expect(usage(() => parseAmqpUrl('amqps://h:0'))).toMatch(/port 0 /);
    expect(usage(() => parseAmqpUrl('amqp://[::1]:/v'))).toMatch(/port \(empty\)/);
  });

  it('refuses a missing host, bad %-encoding, and never shows the password', () => {
    expect(usage(() => parseAmqpUrl('amqp:///v'))).toMatch(/no host/);
    expect(usage(() => parseAmqpUrl('amqp://u:secret@:5672/v'))).toMatch(/no host/);
    expect(usage(() => parseAmqpUrl('amqp://h/%zz'))).toMatch(/bad %-encoding in the vhost/);
    expect(usage(() => parseAmqpUrl('amqp://%zz:p@h/v'))).toMatch(/bad %-encoding in the user name/);
    expect(usage(() => parseAmqpUrl('amqp://u:secret@h:99999/v'))).not.toContain('secret');
  });

  it('the management URL: http(s) only, bad %-encoding in either URL refused', () => {
    expect(usage(() => managementFrom('amqp://u:p@h/v', 'ftp://m:1'))).toMatch(/--management-url ftp:\/\/m:1: expected an http:\/\/ or https:\/\/ URL/);
    expect(usage(() => managementFrom('amqp://u:%zz@h/v', undefined))).toMatch(/bad %-encoding in the user name or password/);
    expect(usage(() => managementFrom('amqp://u:p@h/v', 'http://a:%zz@m:1'))).toMatch(/^--management-url .*bad %-encoding/);
  });
});
