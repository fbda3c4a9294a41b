import { describe, expect, it } from 'vitest';
import type { QueueInfo } from '../../../../src/brokers/rabbitmq/management.js';
import { holdLimit, quorumDeliveryLimit, rabbitChainKey, refuseRiskyMirror, selectQueues, streamName } from '../../../../src/brokers/rabbitmq/queue-selection.js';

function queue(name: string, more: Partial<QueueInfo> = {}): QueueInfo {
  return {
    name,
    vhost: 'v',
    type: 'classic',
    durable: true,
    autoDelete: false,
    exclusive: false,
    arguments: {},
    policy: null,
    effectivePolicy: {},
    messages: 0,
    consumers: 0,
    ...more,
  };
}

describe('RabbitMQ queue selection', () => {
  it('names streams and chains as every earlier backup did', () => {
    expect(streamName('/', 'jobs')).toBe('rabbitmq/%2F/jobs');
    expect(rabbitChainKey('c', 'v/1', 'drain', ['b', 'a b'])).toBe('rabbitmq:c/v%2F1:drain:a%20b,b');
  });

  it('named queues must exist and not be exclusive; --all-queues skips exclusive ones with a warning', () => {
    const all = [queue('b'), queue('a'), queue('x', { exclusive: true })];
    expect(selectQueues(all, 'v', { queues: ['b', 'a'], allQueues: false }, () => {}).map((q) => q.name)).toEqual(['a', 'b']);
    expect(() => selectQueues(all, 'v', { queues: ['nope'], allQueues: false }, () => {})).toThrow(/queue "nope" does not exist in vhost "v"/);
    expect(() => selectQueues(all, 'v', { queues: ['x'], allQueues: false }, () => {})).toThrow(/exclusive/);
    const warnings: string[] = [];
    expect(selectQueues(all, 'v', { queues: [], allQueues: true }, (m) => warnings.push(m)).map((q) => q.name)).toEqual(['a', 'b']);
    expect(warnings).toEqual(['queue x is exclusive to another connection: skipped']);
  });

  it('quorum delivery limits: the lowest of argument and policies; RabbitMQ 4 defaults to 20; -1 is unlimited', () => {
    expect(quorumDeliveryLimit(queue('q', { arguments: { 'x-delivery-limit': 3 } }), [{ 'delivery-limit': 5 }], '3.13.0')).toBe(3);
    expect(quorumDeliveryLimit(queue('q'), [{ 'delivery-limit': '7' }], '3.13.0')).toBe(7);
    expect(quorumDeliveryLimit(queue('q'), [], '3.13.0')).toBeNull();
    expect(quorumDeliveryLimit(queue('q'), [], '4.0.1')).toBe(20);
    expect(quorumDeliveryLimit(queue('q', { arguments: { 'x-delivery-limit': -1 } }), [], '4.0.1')).toBeNull();
  });

  it('a mirror of limited quorum queues is refused with the limits named', () => {
    expect(() => refuseRiskyMirror(new Map([['a', null]]))).not.toThrow();
    expect(() => refuseRiskyMirror(new Map([['payments', 3]]))).toThrow(/refusing to mirror quorum queue payments \(delivery limit 3\)/);
    expect(() => refuseRiskyMirror(new Map([['a', 1], ['b', 2]]))).toThrow(/quorum queues a \(delivery limit 1\), b \(delivery limit 2\)/);
  });

  it('deliveries are held at most 80 % of a queue consumer timeout', () => {
    expect(holdLimit(queue('q'), 600_000)).toBe(600_000);
    expect(holdLimit(queue('q', { arguments: { 'x-consumer-timeout': 100_000 } }), 600_000)).toBe(80_000);
    expect(holdLimit(queue('q', { effectivePolicy: { 'consumer-timeout': 50_000 } }), 600_000)).toBe(40_000);
  });
});
