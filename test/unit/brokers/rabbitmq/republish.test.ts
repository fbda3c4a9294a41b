import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toAmqplibTable } from '../../../../src/brokers/rabbitmq/amqp-codec.js';
import { BROKER_OWNED_HEADERS, renameHeaders, ROUTING_HEADERS } from '../../../../src/brokers/rabbitmq/publisher.js';
import type { AmqpMessageMeta } from '../../../../src/brokers/rabbitmq/amqp-types.js';
import { newRepublishCounts, queueWarnings, republish, type QueueNotes, type RepublishRules } from '../../../../src/brokers/rabbitmq/republish.js';

const rules: RepublishRules = { user: 'guest', targetQueue: 'copy', viaExchange: false, streamTarget: false, extrasSupported: true };

function meta(properties: AmqpMessageMeta['properties'], exchange = 'x'): AmqpMessageMeta {
  return { exchange, routingKey: 'k', redelivered: false, properties };
}

function notes(): QueueNotes {
  return { problems: new Set(), clusterIdDropped: 0, droppedByStream: 0 };
}

describe('RabbitMQ restore: what is changed before publishing', () => {
  it('renames broker-owned headers, drops a foreign user-id, publishes to the target queue', () => {
    const counts = newRepublishCounts();
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
    expect(counts).toEqual({ headersRenamed: 1, routingHeadersRenamed: 0, userIdDropped: 1 });
    // the connecting user's own user-id stays
    expect(republish(meta({ userId: 'guest' }), rules, counts, notes())).toMatchObject({ options: { userId: 'guest' } });
  });

  it('CC and BCC (which RabbitMQ routes by) are kept under x-mqbak-original-cc/-bcc when publishing to the target queue', () => {
    const counts = newRepublishCounts();
    const cc = { name: 'CC', value: { type: 'array' as const, value: [{ type: 'string' as const, value: 'other' }] } };
    const bcc = { name: 'BCC', value: { type: 'array' as const, value: [{ type: 'string' as const, value: 'hidden' }] } };
    // names are case-sensitive for the broker: 'cc' routes nothing and stays
    const lower = { name: 'cc', value: { type: 'string' as const, value: 'kept' } };
    for (const exchange of ['x', '']) {
      const how = republish(meta({ headers: [cc, lower, bcc] }, exchange), rules, counts, notes());
      if ('refused' in how) throw new Error('refused');
      expect(how).toMatchObject({ exchange: '', routingKey: 'copy' });
      expect(how.options.headers).toEqual({ 'x-mqbak-original-cc': ['other'], cc: 'kept', 'x-mqbak-original-bcc': ['hidden'] });
    }
    // a CC of another type (the broker would close the channel over it) is moved too
    const odd = republish(meta({ headers: [{ name: 'CC', value: { type: 'string', value: 'other' } }] }), rules, counts, notes());
    expect(odd).toMatchObject({ options: { headers: { 'x-mqbak-original-cc': 'other' } } });
    expect(odd).not.toHaveProperty('options.headers.CC');
    expect(counts).toEqual({ headersRenamed: 0, routingHeadersRenamed: 3, userIdDropped: 0 });
  });

  it('--via-exchange keeps CC and BCC: the broker routes the message as it did when first published', () => {
    const counts = newRepublishCounts();
    const cc = { name: 'CC', value: { type: 'array' as const, value: [{ type: 'string' as const, value: 'other' }] } };
    const death = { name: 'x-death', value: { type: 'array' as const, value: [] } };
    for (const exchange of ['x', '']) {
      const how = republish(meta({ headers: [cc, death] }, exchange), { ...rules, viaExchange: true }, counts, notes());
      expect(how).toMatchObject({ options: { headers: { CC: ['other'], 'x-mqbak-original-death': [] } } });
    }
    expect(counts).toEqual({ headersRenamed: 2, routingHeadersRenamed: 0, userIdDropped: 0 });
  });

  it('--via-exchange publishes to the original exchange and routing key, except from the default exchange', () => {
    const counts = newRepublishCounts();
    expect(republish(meta({}), { ...rules, viaExchange: true }, counts, notes())).toMatchObject({ exchange: 'x', routingKey: 'k' });
    expect(republish(meta({}, ''), { ...rules, viaExchange: true }, counts, notes())).toMatchObject({ exchange: '', routingKey: 'copy' });
  });

  it('a stream target refuses decimal headers and notes array or table headers', () => {
    const counts = newRepublishCounts();
    const n = notes();
    const stream = { ...rules, streamTarget: true };
    const nested = { name: 'n', value: { type: 'table' as const, value: [{ name: 'd', value: { type: 'decimal' as const, places: 2, digits: 5 } }] } };
    expect(republish(meta({ headers: [nested] }), stream, counts, n)).toEqual({ refused: expect.stringMatching(/decimal headers/) });
    expect(republish(meta({ headers: [{ name: 'a', value: { type: 'array', value: [] } }] }), stream, counts, n)).not.toHaveProperty('refused');
    expect(n.droppedByStream).toBe(1);
    expect(queueWarnings('src', 'copy', n)).toEqual(['queue src: 1 message(s) have array or table headers, which the stream queue copy does not keep']);
  });
});

describe('RabbitMQ restore: headers without anything to rename', () => {
  it('are renamed exactly as renameHeaders would, whatever their names (the quick look skips none)', () => {
    const names = fc.oneof(
      fc.constantFrom('x-death', 'x-delivery-count', 'x-first-death-queue', 'x-last-death-reason', 'x-stream-offset', 'CC', 'BCC', 'cc', 'Bcc', 'x-', 'x', 'C', 'B', 'X-death', 'traceparent'),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(names, { maxLength: 6 }), fc.boolean(), (list, viaExchange) => {
        const headers = list.map((name, i) => ({ name, value: { type: 'int32' as const, value: i } }));
        const r = { ...rules, viaExchange };
        const how = republish(meta({ headers }), r, newRepublishCounts(), notes());
        if ('refused' in how) throw new Error('refused');
        let want = renameHeaders(headers, BROKER_OWNED_HEADERS).headers;
        if (!viaExchange) want = renameHeaders(want, ROUTING_HEADERS).headers;
        expect(how.options.headers).toEqual(toAmqplibTable(want));
      }),
    );
  });
});
