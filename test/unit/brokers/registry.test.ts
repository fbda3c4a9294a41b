import { describe, expect, it } from 'vitest';
import { ADAPTERS, adapterForUrl, allAdapters, registrationForUrl, schemeOf } from '../../../src/brokers/registry.js';
import { MqbakError } from '../../../src/common/errors.js';

describe('broker registry', () => {
  it('finds the adapter by the URL scheme, case-insensitively', () => {
    expect(schemeOf('kafka://a:1')).toBe('kafka');
    expect(schemeOf('AMQPS://a')).toBe('amqps');
    expect(schemeOf('localhost:9092')).toBeNull();
    expect(registrationForUrl('kafka://a:1')?.name).toBe('kafka');
    expect(registrationForUrl('amqps://u@h/v')?.name).toBe('rabbitmq');
    expect(registrationForUrl('nats://u:p@h:4222')?.name).toBe('nats');
    expect(registrationForUrl('http://a')).toBeNull();
  });
  it('an unknown scheme is a usage error listing every adapter\'s example URL', async () => {
    const e = await adapterForUrl('mqtt://localhost', 'backup source').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('usage');
    expect((e as MqbakError).message).toBe('backup source "mqtt://localhost": expected kafka://host:port or amqp://user:pass@host:port/vhost or nats://host:port');
  });
  it('every registry line loads the adapter it names, and adapters redact passwords', async () => {
    for (const a of await allAdapters()) {
      expect(ADAPTERS.find((r) => r.name === a.name)?.schemes).toEqual(a.schemes);
      expect(a.redactUrl(`${a.schemes[0]}://admin:s3cret@host:1/x`)).not.toContain('s3cret');
    }
  });
});
