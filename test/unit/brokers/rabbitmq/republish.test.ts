import { describe, expect, it } from 'vitest';
import type { AmqpMessageMeta } from '../../../../src/brokers/rabbitmq/amqp-types.js';
import { queueWarnings, republish, type QueueNotes, type RepublishRules } from '../../../../src/brokers/rabbitmq/republish.js';

const rules: RepublishRules = { user: 'guest', targetQueue: 'copy', viaExchange: false, streamTarget: false, extrasSupported: true };

function meta(properties: AmqpMessageMeta['properties'], exchange = 'x'): AmqpMessageMeta {
  return { exchange, routingKey: 'k', redelivered: false, properties };
}

function notes(): QueueNotes {
  return { problems: new Set(), clusterIdDropped: 0, droppedByStream: 0 };
}

describe('RabbitMQ restore: what is changed before publishing', () => {
  it('renames broker-owned headers, drops a foreign user-id, publishes to the target queue', () => {
    const counts = { headersRenamed: 0, userIdDropped: 0 };
    const how = republish(
      meta({ userId: 'other', headers: [{ name: 'x-death', value: { type: 'array', value: [] } }, { name: 'keep', value: { type: 'int32', value: 1 } }] }),
      rules,
      counts,
      notes(),
    );
    expect(how).toMatchObject({ exchange: '', routingKey: 'copy' });
    if ('refused' in how) throw new Error('refused');
    expect(Object.keys(how.options.headers as object)).toEqual(['x-mqbak-original-death', 'keep']);
    expect(how.options.userId).toBeUndefined();
    expect(counts).toEqual({ headersRenamed: 1, userIdDropped: 1 });
    // the connecting user's own user-id stays
    expect(republish(meta({ userId: 'guest' }), rules, counts, notes())).toMatchObject({ options: { userId: 'guest' } });
  });

  it('--via-exchange publishes to the original exchange and routing key, except from the default exchange', () => {
    const counts = { headersRenamed: 0, userIdDropped: 0 };
    expect(republish(meta({}), { ...rules, viaExchange: true }, counts, notes())).toMatchObject({ exchange: 'x', routingKey: 'k' });
    expect(republish(meta({}, ''), { ...rules, viaExchange: true }, counts, notes())).toMatchObject({ exchange: '', routingKey: 'copy' });
  });

  it('a stream target refuses decimal headers and notes array or table headers', () => {
    const counts = { headersRenamed: 0, userIdDropped: 0 };
    const n = notes();
    const stream = { ...rules, streamTarget: true };
    const nested = { name: 'n', value: { type: 'table' as const, value: [{ name: 'd', value: { type: 'decimal' as const, places: 2, digits: 5 } }] } };
    expect(republish(meta({ headers: [nested] }), stream, counts, n)).toEqual({ refused: expect.stringMatching(/decimal headers/) });
    expect(republish(meta({ headers: [{ name: 'a', value: { type: 'array', value: [] } }] }), stream, counts, n)).not.toHaveProperty('refused');
    expect(n.droppedByStream).toBe(1);
    expect(queueWarnings('src', 'copy', n)).toEqual(['queue src: 1 message(s) have array or table headers, which the stream queue copy does not keep']);
  });
});
