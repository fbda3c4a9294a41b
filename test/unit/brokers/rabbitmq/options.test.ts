import { describe, expect, it } from 'vitest';
import { backupSettings, DEFAULT_CHECKPOINT, DEFAULT_HOLD_MS, managementFrom, restoreSettings } from '../../../../src/brokers/rabbitmq/options.js';
import { parseAmqpUrl } from '../../../../src/brokers/rabbitmq/amqp-url.js';
import { adapter } from '../../../../src/brokers/rabbitmq/index.js';

const URL = 'amqp://u:p@rabbit:5672/v';

describe('RabbitMQ options', () => {
  it('management URL: default from the AMQP host and credentials, overridable, credentials kept out of the URL', () => {
    expect(managementFrom('amqp://u:p%40ss@rabbit:5672/%2F', undefined)).toEqual({ url: 'http://rabbit:15672/', user: 'u', password: 'p@ss' });
    expect(managementFrom('amqps://u:p@rabbit/v', undefined).url).toBe('https://rabbit:15671/');
    expect(managementFrom('amqp://u:p@rabbit/v', 'http://admin:s3@mgmt:8080/rmq')).toEqual({ url: 'http://mgmt:8080/rmq', user: 'admin', password: 's3' });
    expect(() => managementFrom('amqp://u:p@rabbit/v', 'not a url')).toThrow(/--management-url .*not a valid URL/);
  });

  it('the option wins over MQBAK_RABBITMQ_MANAGEMENT_URL, which wins over the default', () => {
    const env = { MQBAK_RABBITMQ_MANAGEMENT_URL: 'http://x:2' };
    expect(backupSettings(URL, { queues: ['a'], managementUrl: 'http://m:1' }, env).management.url).toBe('http://m:1/');
    expect(backupSettings(URL, { queues: ['a'] }, env).management.url).toBe('http://x:2/');
    expect(restoreSettings(URL, {}, {}).management.url).toBe('http://rabbit:15672/');
  });

  it('AMQP URLs: the vhost is the decoded path, "/" when empty', () => {
    expect(parseAmqpUrl('amqp://guest:guest@localhost:5672/%2F')).toMatchObject({ vhost: '/', user: 'guest', port: 5672 });
    expect(parseAmqpUrl('amqp://localhost')).toMatchObject({ vhost: '/', user: 'guest', port: 5672 });
    expect(parseAmqpUrl('amqps://u@h/prod%2Fa')).toMatchObject({ vhost: 'prod/a', port: 5671, tls: true });
    expect(() => parseAmqpUrl('amqp://h/a/b')).toThrow(/URL-encoded/);
  });

  it('backup settings: defaults, and every combination refused before connecting', () => {
    expect(backupSettings(URL, { queues: ['b', 'a'] }, {})).toMatchObject({
      mode: 'mirror',
      queues: ['b', 'a'],
      allQueues: false,
      maxMessages: null,
      checkpoint: DEFAULT_CHECKPOINT,
      holdMs: DEFAULT_HOLD_MS,
    });
    expect(backupSettings(URL, { queues: 'a, b' }, { MQBAK_RABBITMQ_HOLD_TIMEOUT: '30' })).toMatchObject({ queues: ['a', 'b'], holdMs: 30_000 });
    expect(backupSettings(URL, { allQueues: true, mode: 'drain', maxMessages: 5, checkpoint: 100, holdTimeout: 2 }, {})).toMatchObject({
      allQueues: true,
      mode: 'drain',
      maxMessages: 5,
      checkpoint: 100,
      holdMs: 2000,
    });
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{}, /no queues given/],
      [{ queues: ['a'], allQueues: true }, /exclude each other/],
      [{ queues: ['a'], mode: 'copy' }, /--mode copy: expected mirror or drain/],
      [{ queues: ['a'], maxMessages: 3 }, /--max-messages applies to --mode drain only/],
      [{ queues: ['a'], checkpoint: 100 }, /--checkpoint applies to --mode drain only/],
      [{ queues: ['a'], mode: 'drain', acceptRedeliveryRisk: true }, /--accept-redelivery-risk applies to --mode mirror only/],
      [{ queues: ['a'], mode: 'drain', checkpoint: 65536 }, /--checkpoint: at most 65535/],
      [{ queues: ['a'], holdTimeout: 'soon' }, /--hold-timeout: expected a positive number/],
    ];
    for (const [values, message] of refused) {
      expect(() => adapter.checkBackup(URL, values, {})).toThrow(message);
      try {
        adapter.checkBackup(URL, values, {});
      } catch (e) {
        expect((e as { code: string }).code).toBe('usage');
      }
    }
    expect(() => adapter.checkBackup('amqp://h/a/b', { queues: ['a'] }, {})).toThrow(/URL-encoded/);
    expect(() => adapter.checkRestore('amqp://[bad', {}, {})).toThrow(/not a valid AMQP URL/);
  });

  it('addresses, selectors and renames', () => {
    const address = { vhost: 'v', queue: 'jobs', queueType: 'classic' };
    expect(adapter.selectorOf(address)).toBe('jobs');
    expect(adapter.renamed(address, 'jobs-copy')).toEqual({ vhost: 'v', queue: 'jobs-copy', queueType: 'classic' });
    expect(adapter.describe(address)).toBe('queue jobs');
    expect(adapter.redactUrl('amqp://admin:s3cret@rabbit:5672/prod')).toBe('amqp://admin@rabbit:5672/prod');
  });
});
