import { createRequire } from 'node:module';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeBasicProperties,
  decodeFieldTable,
  encodeFieldTable,
  plainValue,
  toAmqplibTable,
} from '../../../../src/brokers/rabbitmq/amqp-codec.js';
import { publishOptions, renameBrokerHeaders } from '../../../../src/brokers/rabbitmq/publisher.js';
import { matchingPolicy, type Policy } from '../../../../src/brokers/rabbitmq/management.js';
import { quorumDeliveryLimit, rabbitChainKey, streamName } from '../../../../src/brokers/rabbitmq/queue-selection.js';
import type { AmqpField, AmqpValue } from '../../../../src/brokers/rabbitmq/amqp-types.js';
import { fixedScalars } from './amqp-arbitraries.js';

// amqplib's own codec, to check that what we hand it encodes to exactly the bytes we decoded
const require = createRequire(import.meta.url);
const amqplibDir = path.dirname(require.resolve('amqplib'));
const codec = require(path.join(amqplibDir, 'lib/codec.js')) as {
  encodeTable(buf: Buffer, val: unknown, offset: number): number;
  decodeFields(buf: Buffer): Record<string, unknown>;
};
const defs = require(path.join(amqplibDir, 'lib/defs.js')) as {
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
  BasicProperties: number;
};

function amqplibEncode(table: Record<string, unknown>): Buffer {
  const buf = Buffer.alloc(1 << 20);
  const n = codec.encodeTable(buf, table, 0);
  return buf.subarray(4, n); // without the table's own length prefix
}

const name = fc.string({ minLength: 1, maxLength: 20 }).filter((s) => Buffer.byteLength(s) <= 255 && !/^(0|[1-9]\d*)$/.test(s) && s !== '!');
const scalar: fc.Arbitrary<AmqpValue> = fc.oneof(
  fc.string().map((value) => ({ type: 'string' as const, value })),
  ...fixedScalars,
  fc.float({ noNaN: true }).map((value) => ({ type: 'float' as const, value: Math.fround(value) })),
  fc.double({ noNaN: true }).map((value) => ({ type: 'double' as const, value })),
  fc.integer({ min: 0, max: 2 ** 40 }).map((value) => ({ type: 'timestamp' as const, value })),
);
const { value: valueArb } = fc.letrec<{ value: AmqpValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    scalar,
    fc.array(tie('value'), { maxLength: 4 }).map((value) => ({ type: 'array' as const, value })),
    fc.uniqueArray(fc.record({ name, value: tie('value') }), { maxLength: 4, selector: (f) => f.name }).map((value) => ({ type: 'table' as const, value })),
  ),
}));
const tableArb = fc.uniqueArray(fc.record({ name, value: valueArb }), { maxLength: 8, selector: (f) => f.name }) as fc.Arbitrary<AmqpField[]>;

describe('AMQP field tables with types', () => {
  it('decode(encode(table)) is the same table, types and order included', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        expect(decodeFieldTable(encodeFieldTable(t))).toEqual(t);
      }),
      { numRuns: 300 },
    );
  });

  it('amqplib encodes the typed values we give it to exactly the bytes we decoded', () => {
    fc.assert(
      fc.property(tableArb, (t) => {
        const problems: string[] = [];
        const bytes = amqplibEncode(toAmqplibTable(t, problems));
        expect(problems).toEqual([]);
        expect(bytes.equals(encodeFieldTable(t))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('a header named __proto__ or constructor is republished like any other (found by the property above)', () => {
    const t: AmqpField[] = [
      { name: '__proto__', value: { type: 'string', value: 'x' } },
      { name: 'constructor', value: { type: 'table', value: [{ name: '__proto__', value: { type: 'int32', value: 1 } }] } },
    ];
    const problems: string[] = [];
    const bytes = amqplibEncode(toAmqplibTable(t, problems));
    expect(problems).toEqual([]);
    expect(bytes.equals(encodeFieldTable(t))).toBe(true);
  });

  it('our decoding agrees with amqplib where amqplib keeps the value (plain reading)', () => {
    const t: AmqpField[] = [
      { name: 'a', value: { type: 'int16', value: -5 } },
      { name: 'b', value: { type: 'string', value: 'héllo' } },
      { name: 'c', value: { type: 'table', value: [{ name: 'x', value: { type: 'double', value: 1.25 } }] } },
      { name: 'd', value: { type: 'array', value: [{ type: 'bool', value: true }, { type: 'void' }] } },
    ];
    const ours = Object.fromEntries(t.map((f) => [f.name, plainValue(f.value)]));
    expect(codec.decodeFields(encodeFieldTable(t))).toEqual(ours);
  });

  it('keeps what amqplib loses: int64 beyond 2^53, int vs long vs float types, integer-like names in wire order', () => {
    const t: AmqpField[] = [
      { name: 'z', value: { type: 'int64', value: '9007199254740993' } },
      { name: '7', value: { type: 'int32', value: 7 } },
      { name: 'f', value: { type: 'float', value: 0.5 } },
      { name: 'l', value: { type: 'int64', value: '1' } },
    ];
    const bytes = encodeFieldTable(t);
    expect(decodeFieldTable(bytes)).toEqual(t);
    const lossy = codec.decodeFields(bytes);
    expect(lossy.z).toBe(9007199254740992); // amqplib rounds
    expect(Object.keys(lossy)[0]).toBe('7'); // and reorders
  });

  it('reports what a JS object cannot carry', () => {
    const problems: string[] = [];
    toAmqplibTable(
      [
        { name: 'dup', value: { type: 'int8', value: 1 } },
        { name: 'dup', value: { type: 'int8', value: 2 } },
        { name: '12', value: { type: 'void' } },
      ],
      problems,
    );
    expect(problems.join('\n')).toMatch(/dup.*more than once/);
    expect(problems.join('\n')).toMatch(/"12".*integer-like/);
  });

  it('refuses truncated or unknown input instead of guessing', () => {
    const bytes = encodeFieldTable([{ name: 'a', value: { type: 'string', value: 'hello' } }]);
    expect(() => decodeFieldTable(bytes.subarray(0, bytes.length - 2))).toThrow(/truncated/);
    expect(() => decodeFieldTable(Buffer.from([1, 0x61, 0x51]))).toThrow(/unknown field type tag "Q"/);
  });

  it('notes strings that are not valid UTF-8', () => {
    const bytes = Buffer.concat([Buffer.from([1, 0x61, 0x53, 0, 0, 0, 2]), Buffer.from([0xc3, 0x28])]);
    const notes = { invalidUtf8: [] as string[] };
    decodeFieldTable(bytes, notes, 'headers');
    expect(notes.invalidUtf8).toEqual(['headers.a']);
  });
});

describe('basic properties', () => {
  it('decodes every property from the bytes amqplib would send', () => {
    const headers: AmqpField[] = [
      { name: 'n', value: { type: 'int64', value: '-12' } },
      { name: 't', value: { type: 'timestamp', value: 1700000000 } },
    ];
    const opts = publishOptions({
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers,
      deliveryMode: 2,
      priority: 7,
      correlationId: 'c-1',
      replyTo: 'rq',
      expiration: '60000',
      messageId: 'm-1',
      timestamp: 1700000001,
      type: 'order.created',
      userId: 'guest',
      appId: 'shop',
    });
    const frame = defs.encodeProperties(defs.BasicProperties, 1, 10, { ...opts, headers: opts.headers });
    // frame header (7) + class id, weight, body size (12); the frame-end byte last
    const props = decodeBasicProperties(frame.subarray(7 + 12, frame.length - 1));
    expect(props).toEqual({
      contentType: 'application/json',
      contentEncoding: 'gzip',
      headers,
      deliveryMode: 2,
      priority: 7,
      correlationId: 'c-1',
      replyTo: 'rq',
      expiration: '60000',
      messageId: 'm-1',
      timestamp: 1700000001,
      type: 'order.created',
      userId: 'guest',
      appId: 'shop',
    });
  });

  it('leaves absent properties out', () => {
    expect(decodeBasicProperties(Buffer.from([0, 0]))).toEqual({});
  });
});

describe('restore header rules', () => {
  it('moves broker-owned headers to x-mqbak-original-* and keeps the rest in order', () => {
    const h: AmqpField[] = [
      { name: 'a', value: { type: 'void' } },
      { name: 'x-death', value: { type: 'array', value: [] } },
      { name: 'x-delivery-count', value: { type: 'int64', value: '3' } },
      { name: 'x-first-death-reason', value: { type: 'string', value: 'rejected' } },
      { name: 'x-custom', value: { type: 'bool', value: true } },
    ];
    const r = renameBrokerHeaders(h);
    expect(r.headers.map((f) => f.name)).toEqual([
      'a',
      'x-mqbak-original-death',
      'x-mqbak-original-delivery-count',
      'x-mqbak-original-first-death-reason',
      'x-custom',
    ]);
    expect(r.headers[2]!.value).toEqual({ type: 'int64', value: '3' });
    expect(r.renamed).toEqual(['x-death', 'x-delivery-count', 'x-first-death-reason']);
  });
});

describe('quorum delivery limits', () => {
  const q = (args: Record<string, unknown>, eff: Record<string, unknown> = {}) => ({
    name: 'q',
    vhost: '/',
    type: 'quorum' as const,
    durable: true,
    autoDelete: false,
    exclusive: false,
    arguments: args,
    policy: null,
    effectivePolicy: eff,
    messages: 0,
    consumers: 0,
  });
  it('takes the lowest of argument and policies; none on 3.x; 20 by default on 4.x; -1 is unlimited', () => {
    expect(quorumDeliveryLimit(q({ 'x-delivery-limit': 5 }), [], '3.10.8')).toBe(5);
    expect(quorumDeliveryLimit(q({ 'x-delivery-limit': 5 }), [{ 'delivery-limit': 3 }], '3.10.8')).toBe(3);
    expect(quorumDeliveryLimit(q({}, { 'delivery-limit': 9 }), [], '3.10.8')).toBe(9);
    expect(quorumDeliveryLimit(q({}), [], '3.10.8')).toBeNull();
    expect(quorumDeliveryLimit(q({}), [], '4.0.5')).toBe(20);
    expect(quorumDeliveryLimit(q({ 'x-delivery-limit': -1 }), [], '4.1.0')).toBeNull();
  });
  it('finds the applicable policy by pattern, apply-to and priority', () => {
    const p = (name: string, pattern: string, applyTo: string, priority: number): Policy => ({
      name,
      vhost: '/',
      pattern,
      'apply-to': applyTo,
      definition: {},
      priority,
    });
    const ps = [p('low', '^jobs', 'queues', 0), p('high', '^jobs', 'all', 5), p('ex', '^jobs', 'exchanges', 9), p('cls', '^jobs', 'classic_queues', 7)];
    expect(matchingPolicy(ps, 'jobs-1', 'quorum')?.name).toBe('high');
    expect(matchingPolicy(ps, 'jobs-1', 'classic')?.name).toBe('cls');
    expect(matchingPolicy(ps, 'other', 'quorum')).toBeNull();
  });
});

describe('names', () => {
  it('stream names and chain keys are stable and encode the vhost', () => {
    expect(streamName('/', 'jobs')).toBe('rabbitmq/%2F/jobs');
    expect(rabbitChainKey('rabbit@h', '/', 'mirror', ['b', 'a'])).toBe('rabbitmq:rabbit@h/%2F:mirror:a,b');
  });
});
