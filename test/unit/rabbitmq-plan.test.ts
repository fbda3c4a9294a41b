import { describe, expect, it } from 'vitest';
import { planRabbitRestore } from '../../src/core/rabbitmq-restore.js';
import { parseMap } from '../../src/cli/options/common.js';
import { managementFrom } from '../../src/cli/commands/backup-rabbitmq.js';
import { parseAmqpUrl } from '../../src/brokers/rabbitmq/amqp-url.js';
import { journalId, SettledTracker } from '../../src/core/rabbitmq-restore-journal.js';
import type { LoadedManifest } from '../../src/core/backup-reader.js';
import type { StreamEntry } from '../../src/archive/manifest.js';

function stream(queue: string, from: number, to: number, type: 'classic' | 'quorum' | 'stream' = 'classic'): StreamEntry {
  return {
    name: `rabbitmq/v/${queue}`,
    address: { vhost: 'v', queue, queueType: type },
    from: String(from),
    to: String(to),
    records: to - from,
    segments: [],
    gaps: [],
    extra: {},
  };
}

function backup(id: string, streams: StreamEntry[]): LoadedManifest {
  return {
    sha256: id,
    manifest: {
      format: 'mqbak',
      version: 1,
      id,
      kind: 'full',
      parent: null,
      source: { broker: 'rabbitmq', url: 'amqp://u@h/v', chainKey: 'k', options: {} },
      streams,
      metadata: {},
      tool: { name: 'mqbak', version: '0' },
      startedAt: '',
      endedAt: '',
      warnings: [],
    },
  };
}

describe('RabbitMQ restore plan', () => {
  const chain = [backup('a', [stream('jobs', 0, 10)]), backup('b', [stream('jobs', 10, 15), stream('mail', 0, 2, 'quorum')])];
  it('joins each queue across the chain in order, renamed by --map', () => {
    const plan = planRabbitRestore(chain, { map: { jobs: 'jobs-copy' } });
    expect(plan.map((p) => [p.source, p.target, p.type, p.records, p.entries.map((e) => e.from)])).toEqual([
      ['jobs', 'jobs-copy', 'classic', 15, ['0', '10']],
      ['mail', 'mail', 'quorum', 2, ['0']],
    ]);
  });
  it('selects queues and refuses names the backup does not have', () => {
    expect(planRabbitRestore(chain, { queues: ['mail'] }).map((p) => p.source)).toEqual(['mail']);
    expect(() => planRabbitRestore(chain, { queues: ['nope'] })).toThrow(/not in the backup/);
    expect(() => planRabbitRestore(chain, { map: { nope: 'x' } })).toThrow(/--map nope=/);
  });
});

describe('RabbitMQ CLI parsing', () => {
  it('--map src=dst', () => {
    expect(parseMap(['a=b', 'c=d=e'])).toEqual({ a: 'b', c: 'd=e' });
    expect(() => parseMap(['a'])).toThrow(/src=dst/);
    expect(() => parseMap(['a=b', 'a=c'])).toThrow(/twice/);
  });
  it('management URL: default from the AMQP host and credentials, overridable, credentials kept out of the URL', () => {
    expect(managementFrom('amqp://u:p%40ss@rabbit:5672/%2F', {}, {})).toEqual({ url: 'http://rabbit:15672/', user: 'u', password: 'p@ss' });
    expect(managementFrom('amqps://u:p@rabbit/v', {}, {}).url).toBe('https://rabbit:15671/');
    expect(managementFrom('amqp://u:p@rabbit/v', {}, { MQBAK_RABBITMQ_MANAGEMENT_URL: 'http://admin:s3@mgmt:8080/rmq' })).toEqual({
      url: 'http://mgmt:8080/rmq',
      user: 'admin',
      password: 's3',
    });
    expect(managementFrom('amqp://u:p@rabbit/v', { managementUrl: 'http://m:1' }, { MQBAK_RABBITMQ_MANAGEMENT_URL: 'http://x:2' }).url).toBe('http://m:1/');
  });
  it('AMQP URLs: the vhost is the decoded path, "/" when empty', () => {
    expect(parseAmqpUrl('amqp://guest:guest@localhost:5672/%2F')).toMatchObject({ vhost: '/', user: 'guest', port: 5672 });
    expect(parseAmqpUrl('amqp://localhost')).toMatchObject({ vhost: '/', user: 'guest', port: 5672 });
    expect(parseAmqpUrl('amqps://u@h/prod%2Fa')).toMatchObject({ vhost: 'prod/a', port: 5671, tls: true });
    expect(() => parseAmqpUrl('amqp://h/a/b')).toThrow(/URL-encoded/);
  });
});

describe('RabbitMQ restore journal', () => {
  it('the settled prefix only advances over settled records, whatever order the confirms come in', () => {
    const t = new SettledTracker();
    const s = [0n, 1n, 2n, 3n].map((p) => t.sent(p));
    s[1]!(true);
    expect(t.progress('q')).toEqual({ target: 'q', settledThrough: null, failed: [] });
    s[0]!(true);
    expect(t.progress('q').settledThrough).toBe('1');
    s[3]!(false);
    s[2]!(true);
    expect(t.progress('q')).toEqual({ target: 'q', settledThrough: '3', failed: ['3'] });
  });
  it('a rerun skips the settled prefix except its failures, and re-settles a retried failure', () => {
    const t = new SettledTracker({ target: 'q', settledThrough: '5', failed: ['2'] });
    expect([0n, 1n, 2n, 3n, 5n, 6n].map((p) => t.wanted(p))).toEqual([false, false, true, false, false, true]);
    t.sent(2n)(true);
    t.sent(6n)(true);
    expect(t.progress('q')).toEqual({ target: 'q', settledThrough: '6', failed: [] });
  });
  it('journal ids depend on backup, target and options, not on their order', () => {
    const a = journalId({ backup: 'b', target: 'amqp://u@h/v', map: { x: 'y', a: 'b' }, queues: ['x', 'a'], viaExchange: false });
    const b = journalId({ backup: 'b', target: 'amqp://u@h/v', map: { a: 'b', x: 'y' }, queues: ['a', 'x'], viaExchange: false });
    expect(a).toBe(b);
    expect(journalId({ backup: 'b', target: 'amqp://u@h/v', map: {}, queues: ['a'], viaExchange: true })).not.toBe(
      journalId({ backup: 'b', target: 'amqp://u@h/v', map: {}, queues: ['a'], viaExchange: false }),
    );
  });
});
