import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { amqpToAttributes } from '../../../../src/brokers/rabbitmq/amqp-json.js';
import type { AmqpField, AmqpMessageMeta, AmqpProperties, AmqpValue } from '../../../../src/brokers/rabbitmq/amqp-types.js';
import { republishedProperties, type HeaderRules } from '../../../../src/brokers/rabbitmq/attributes-header.js';
import { PUBLISH_EXTRAS, type PublishExtras } from '../../../../src/brokers/rabbitmq/connection.js';
import { newRepublishCounts, republish, type QueueNotes, type RepublishRules } from '../../../../src/brokers/rabbitmq/republish.js';
import { canonicalJson } from '../../../../src/common/canonical-json.js';
import { fixedScalars } from './amqp-arbitraries.js';

const require = createRequire(import.meta.url);
// amqplib's own encoders (not exported by its package: loaded by path)
const amqplibLib = join(dirname(require.resolve('amqplib')), 'lib');
const defs = require(join(amqplibLib, 'defs.js')) as {
  BasicProperties: number;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
};
const Args = (require(join(amqplibLib, 'api_args.js')) as { publish(exchange: string, routingKey: string, options: unknown): Record<string, unknown> }).publish;

const rules: RepublishRules = { user: 'guest', targetQueue: 'copy', viaExchange: false, streamTarget: false, extrasSupported: true };
const headerRules: HeaderRules = { user: Buffer.from('guest'), viaExchange: false };

function attributesOf(meta: AmqpMessageMeta): Buffer {
  return Buffer.from(canonicalJson(amqpToAttributes(meta)), 'utf8');
}

/** Written from the attributes' bytes, placed inside a larger buffer as the archive's columns are. */
function fast(meta: AmqpMessageMeta, r: HeaderRules = headerRules): Buffer | null {
  const attrs = attributesOf(meta);
  const src = Buffer.concat([Buffer.from('{"before":1}'), attrs, Buffer.from('after')]);
  const out = republishedProperties(src, 12, 12 + attrs.length, r);
  return out && Buffer.from(out);
}

/** What the general path sends: republish, amqplib's publish arguments, the connection's extras, amqplib's encoder. */
function general(meta: AmqpMessageMeta): Buffer {
  const notes: QueueNotes = { problems: new Set(), clusterIdDropped: 0, droppedByStream: 0 };
  const how = republish(meta, rules, newRepublishCounts(), notes);
  if ('refused' in how) throw new Error(how.refused);
  let props = Args(how.exchange, how.routingKey, how.options);
  const extras = (props.headers as Record<symbol, PublishExtras | undefined>)[PUBLISH_EXTRAS];
  if (extras) {
    props = { ...props };
    if (extras.noHeaders) props.headers = undefined;
    if (extras.clusterId !== undefined) props.clusterId = extras.clusterId;
  }
  const frame = defs.encodeProperties(defs.BasicProperties, 1, 0, props);
  // type, channel, size; class, weight, body size; ...; frame end
  return frame.subarray(7 + 12, frame.length - 1);
}

// mostly what messages carry, sometimes what the general path must see (escapes, long strings)
const shortstr = fc.oneof(
  { weight: 40, arbitrary: fc.stringMatching(/^[ -!#-[\]-~]{0,30}$/) },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
  { weight: 1, arbitrary: fc.constantFrom('application/json', 'text/plain; charset=utf-8', 'a"b', 'c\\d', 'tab\there', 'x'.repeat(256)) },
);
const name = fc.oneof(
  { weight: 40, arbitrary: fc.stringMatching(/^[a-z][a-z0-9.-]{0,11}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('traceparent', 'x-death', 'x-other', 'CC', 'BCC', 'Bx', 'Cy', '7', '07', 'näme', '__proto__') },
);
const scalar: fc.Arbitrary<AmqpValue> = fc.oneof(
  ...fixedScalars,
  shortstr.map((value) => ({ type: 'string' as const, value })),
  fc.integer({ min: 0, max: 2 ** 40 }).map((value) => ({ type: 'timestamp' as const, value })),
);
const scalarOrFloat: fc.Arbitrary<AmqpValue> = fc.oneof(
  { weight: 40, arbitrary: scalar },
  { weight: 1, arbitrary: fc.double().map((value) => ({ type: 'double' as const, value })) },
  { weight: 1, arbitrary: fc.float().map((value) => ({ type: 'float' as const, value })) },
);
const value: fc.Arbitrary<AmqpValue> = fc.oneof(
  { weight: 40, arbitrary: scalarOrFloat },
  { weight: 6, arbitrary: fc.array(scalarOrFloat, { maxLength: 4 }).map((value) => ({ type: 'array' as const, value })) },
  { weight: 1, arbitrary: fc.array(fc.record({ name, value: scalar }), { maxLength: 2 }).map((value) => ({ type: 'table' as const, value })) },
);
const properties: fc.Arbitrary<AmqpProperties> = fc.record(
  {
    contentType: shortstr,
    contentEncoding: shortstr,
    headers: fc.array(fc.record({ name, value }), { maxLength: 5 }) as fc.Arbitrary<AmqpField[]>,
    deliveryMode: fc.integer({ min: 1, max: 2 }),
    priority: fc.integer({ min: 0, max: 255 }),
    correlationId: shortstr,
    replyTo: shortstr,
    expiration: fc.integer({ min: 0, max: 100000 }).map(String),
    messageId: shortstr,
    timestamp: fc.integer({ min: 0, max: 2 ** 40 }),
    type: shortstr,
    userId: fc.constantFrom('guest', 'guest', 'guest', 'other'),
    appId: shortstr,
  },
  { requiredKeys: [] },
);
const metas: fc.Arbitrary<AmqpMessageMeta> = fc
  .record({ exchange: shortstr, routingKey: shortstr, redelivered: fc.boolean(), properties, clusterId: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: shortstr }) })
  .map(({ clusterId, ...m }) => (clusterId === null ? m : { ...m, properties: { ...m.properties, clusterId } }));

/** A message as the bench publishes it (and most messages look). */
const common: AmqpMessageMeta = {
  exchange: '',
  routingKey: 'orders',
  redelivered: false,
  properties: {
    contentType: 'application/json',
    deliveryMode: 2,
    headers: [
      { name: 'content-type', value: { type: 'string', value: 'application/json' } },
      { name: 'traceparent', value: { type: 'string', value: '00-bd201c62de6e9ec2d5c214a974e0231f-aa94ef5f1b594d35-01' } },
      { name: 'event-type', value: { type: 'string', value: 'cart.updated' } },
    ],
    messageId: 'user-46317-0',
    timestamp: 1_764_000_000,
  },
};

describe('RabbitMQ restore: content headers written from the archived attributes', () => {
  it('writes the bytes amqplib sends on the general path, for any properties it takes', () => {
    let written = 0;
    fc.assert(
      fc.property(metas, (meta) => {
        const out = fast(meta);
        if (out === null) return;
        written++;
        expect(out.toString('hex')).toBe(general(meta).toString('hex'));
      }),
      { numRuns: 3000 },
    );
    // most generated messages have something the general path must see (a float, a table, a
    // renamed name, a foreign user-id, a cluster-id, an escape): still, many are written here
    expect(written).toBeGreaterThan(600);
  });

  it('writes the common message, with every type it takes', () => {
    expect(fast(common)!.toString('hex')).toBe(general(common).toString('hex'));
    const headers: AmqpField[] = [
      ...fixedScalarsExamples(),
      { name: 'ts', value: { type: 'timestamp', value: 2 ** 40 } },
      { name: 'utf', value: { type: 'string', value: 'Chloé ✓' } },
      { name: 'list', value: { type: 'array', value: [{ type: 'int16', value: -2 }, { type: 'string', value: 's' }, { type: 'array', value: [] }] } },
    ];
    const m: AmqpMessageMeta = { ...common, properties: { ...common.properties, headers, userId: 'guest', priority: 0, appId: '' } };
    expect(fast(m)!.toString('hex')).toBe(general(m).toString('hex'));
    // no headers at all: no headers table (amqplib alone would send an empty one)
    const bare: AmqpMessageMeta = { exchange: '', routingKey: 'q', redelivered: true, properties: {} };
    expect(fast(bare)!.toString('hex')).toBe('0000');
    expect(fast({ ...bare, properties: { headers: [] } })!.toString('hex')).toBe('200000000000');
  });

  it('leaves to the general path what it changes, reports or refuses', () => {
    const withHeader = (h: AmqpField): AmqpMessageMeta => ({ ...common, properties: { ...common.properties, headers: [...common.properties.headers!, h] } });
    const str = (v: string): AmqpValue => ({ type: 'string', value: v });
    for (const m of [
      withHeader({ name: 'x-death', value: { type: 'array', value: [] } }),
      withHeader({ name: 'x-delivery-count', value: { type: 'int64', value: '3' } }),
      withHeader({ name: 'CC', value: { type: 'array', value: [str('other')] } }),
      withHeader({ name: 'BCC', value: { type: 'array', value: [str('other')] } }),
      withHeader({ name: 'traceparent', value: str('twice') }),
      withHeader({ name: '12', value: str('integer-like') }),
      withHeader({ name: 'f', value: { type: 'double', value: 1.5 } }),
      withHeader({ name: 'n', value: { type: 'float', value: NaN } }),
      withHeader({ name: 't', value: { type: 'table', value: [] } }),
      withHeader({ name: 'a', value: { type: 'array', value: [{ type: 'table', value: [] }] } }),
      withHeader({ name: 'q', value: str('say "hi"') }),
      withHeader({ name: 'big', value: { type: 'timestamp', value: 2 ** 53 } }),
      { ...common, properties: { ...common.properties, userId: 'other' } },
      { ...common, properties: { ...common.properties, clusterId: 'c' } },
      { ...common, properties: { ...common.properties, correlationId: 'x'.repeat(256) } },
    ]) {
      expect(fast(m), JSON.stringify(m.properties.headers?.at(-1) ?? m.properties)).toBeNull();
    }
    expect(fast(common, { ...headerRules, viaExchange: true })).toBeNull();
    // attributes that are not in canonical form, or not attributes at all
    for (const text of ['{"exchange": "","properties":{},"redelivered":false,"routingKey":"q"}', '{"properties":{},"exchange":"","redelivered":false,"routingKey":"q"}', '{"exchange":"","properties":{"deliveryMode":2.5},"redelivered":false,"routingKey":"q"}', '{"exchange":"","properties":{"wat":1},"redelivered":false,"routingKey":"q"}', '{"exchange":"","properties":{},"redelivered":false,"routingKey":"q"}x', '{"exchange":"","properties":{},"redelivered":false', 'null', '']) {
      const b = Buffer.from(text);
      expect(republishedProperties(b, 0, b.length, headerRules), text).toBeNull();
    }
    const ok = Buffer.from('{"exchange":"","properties":{},"redelivered":false,"routingKey":"q"}');
    expect(republishedProperties(ok, 0, ok.length, headerRules)).not.toBeNull();
  });
});

function fixedScalarsExamples(): AmqpField[] {
  const values: AmqpValue[] = [
    { type: 'bytes', value: Buffer.from([0, 1, 254, 255]).toString('base64') },
    { type: 'bool', value: true },
    { type: 'bool', value: false },
    { type: 'int8', value: -128 },
    { type: 'uint8', value: 255 },
    { type: 'int16', value: -32768 },
    { type: 'uint16', value: 65535 },
    { type: 'int32', value: -(2 ** 31) },
    { type: 'uint32', value: 2 ** 32 - 1 },
    { type: 'int64', value: '-9223372036854775808' },
    { type: 'int64', value: '9223372036854775807' },
    { type: 'decimal', places: 2, digits: 4_294_967_295 },
    { type: 'void' },
  ];
  return values.map((value, i) => ({ name: `v${i}`, value }));
}
