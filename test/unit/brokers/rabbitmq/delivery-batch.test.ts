import type { ConsumeMessage } from 'amqplib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { columnRecordSize, encodeRecord, writeColumnRecord } from '../../../../src/archive/record-encoder.js';
import { decodeBasicProperties, encodeFieldTable } from '../../../../src/brokers/rabbitmq/amqp-codec.js';
import type { AmqpField, AmqpValue } from '../../../../src/brokers/rabbitmq/amqp-types.js';
import { DeliveryBatch } from '../../../../src/brokers/rabbitmq/delivery-batch.js';
import { deliveryRecord } from '../../../../src/brokers/rabbitmq/delivery.js';
import { fixedScalars } from './amqp-arbitraries.js';

/** A basic property as it goes on the wire: text, or raw bytes (which may not be UTF-8). */
type Short = string | Uint8Array;

interface RawProps {
  contentType?: Short;
  contentEncoding?: Short;
  headers?: AmqpField[];
  deliveryMode?: number;
  priority?: number;
  correlationId?: Short;
  replyTo?: Short;
  expiration?: Short;
  messageId?: Short;
  timestamp?: bigint;
  type?: Short;
  userId?: Short;
  appId?: Short;
  clusterId?: Short;
}

const WIRE = ['contentType', 'contentEncoding', 'headers', 'deliveryMode', 'priority', 'correlationId', 'replyTo', 'expiration', 'messageId', 'timestamp', 'type', 'userId', 'appId', 'clusterId'] as const;

/** The property part of a content header (flags, then the present properties in wire order). */
function encodeProps(p: RawProps): Buffer {
  let flags = 0;
  const parts: Buffer[] = [];
  WIRE.forEach((name, i) => {
    const v = p[name];
    if (v === undefined) return;
    flags |= 0x8000 >> i;
    if (name === 'headers') {
      const t = encodeFieldTable(v as AmqpField[]);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(t.length);
      parts.push(len, t);
    } else if (name === 'deliveryMode' || name === 'priority') parts.push(Buffer.from([v as number]));
    else if (name === 'timestamp') {
      const b = Buffer.alloc(8);
      b.writeBigUInt64BE(v as bigint);
      parts.push(b);
    } else {
      const b = Buffer.from(v as Short);
      parts.push(Buffer.from([b.length]), b);
    }
  });
  const head = Buffer.alloc(2);
  head.writeUInt16BE(flags);
  return Buffer.concat([head, ...parts]);
}

function message(exchange: string, routingKey: string, redelivered: boolean, body: Uint8Array): ConsumeMessage {
  return { content: Buffer.from(body), fields: { exchange, routingKey, redelivered, deliveryTag: 1, consumerTag: 'c' }, properties: {} } as unknown as ConsumeMessage;
}

/** The record bytes the archive got for a delivery before DeliveryBatch: deliveryRecord, then the archive's record encoder. */
function before(msg: ConsumeMessage, raw: Buffer, position: number): Uint8Array {
  const f = msg.fields;
  const meta = { exchange: f.exchange, routingKey: f.routingKey, redelivered: f.redelivered, properties: decodeBasicProperties(raw) };
  return encodeRecord(deliveryRecord(msg, meta, BigInt(position)));
}

/** The record bytes of every delivery in the batch, as the archive writes them from columns. */
function fromBatch(batch: DeliveryBatch): Uint8Array[] {
  const cols = batch.take();
  const out: Uint8Array[] = [];
  for (let i = 0; i < cols.count; i++) {
    const size = columnRecordSize(cols, i);
    const b = new Uint8Array(size);
    writeColumnRecord(cols, i, size, b, new DataView(b.buffer), 0);
    out.push(b);
  }
  return out;
}

// plain ASCII (the direct writer's case), JSON escapes, any Unicode, and bytes that are not UTF-8
const plainText = fc.string({ maxLength: 30, unit: fc.constantFrom(...'abcXYZ019-_./:@ ~\x7f') });
const anyText = fc.oneof(plainText, fc.string({ maxLength: 30 }), fc.string({ maxLength: 20, unit: 'binary' }));
const anyShort: fc.Arbitrary<Short> = fc.oneof({ weight: 6, arbitrary: plainText }, { weight: 2, arbitrary: anyText }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 12 }) });

/**
 * Deliveries whose strings come from `text` and `short`; `general` adds what only the general
 * path writes (floats and doubles, timestamps of 2^53 and more). A delivery with anything of
 * that anywhere takes the general path, so the direct one is tested by the plain deliveries.
 */
function deliveries(text: fc.Arbitrary<string>, short: fc.Arbitrary<Short>, general: boolean) {
  const name = text.filter((s) => Buffer.byteLength(s) <= 255);
  const scalars: Array<fc.Arbitrary<AmqpValue>> = [
    text.map((value) => ({ type: 'string' as const, value })),
    ...fixedScalars,
    fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.constant(2 ** 53 - 1)).map((value) => ({ type: 'timestamp' as const, value })),
  ];
  if (general) {
    scalars.push(
      fc.float().map((value) => ({ type: 'float' as const, value: Math.fround(value) })),
      fc.double().map((value) => ({ type: 'double' as const, value })),
      fc.constantFrom(2 ** 53, 2 ** 60).map((value) => ({ type: 'timestamp' as const, value })),
    );
  }
  const { value } = fc.letrec<{ value: AmqpValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.oneof(...scalars),
      fc.array(tie('value'), { maxLength: 4 }).map((v) => ({ type: 'array' as const, value: v })),
      fc.array(fc.record({ name, value: tie('value') }), { maxLength: 4 }).map((v) => ({ type: 'table' as const, value: v })),
    ),
  }));
  const timestamp = general ? fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 42n }), fc.constantFrom(2n ** 50n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n)) : fc.bigInt({ min: 0n, max: 2n ** 42n });
  const props: fc.Arbitrary<RawProps> = fc.record(
    {
      contentType: short,
      contentEncoding: short,
      headers: fc.array(fc.record({ name, value }), { maxLength: 6 }),
      deliveryMode: fc.integer({ min: 0, max: 255 }),
      priority: fc.integer({ min: 0, max: 255 }),
      correlationId: short,
      replyTo: short,
      expiration: short,
      messageId: short,
      timestamp,
      type: short,
      userId: short,
      appId: short,
      clusterId: short,
    },
    { requiredKeys: [] },
  );
  return fc.record({ props, exchange: text, routingKey: text, redelivered: fc.boolean(), body: fc.uint8Array({ maxLength: 200 }) });
}

const plainDelivery = deliveries(plainText, plainText, false);
const delivery = fc.oneof(plainDelivery, deliveries(anyText, anyShort, true));

/** A record's bytes as text for comparing (latin1: one character per byte, so any difference shows). */
function text(b: Uint8Array): string {
  return Buffer.from(b).toString('latin1');
}

/** before(), or the error it throws (a property set the old path refused must be refused now too). */
function outcome(f: () => Uint8Array[]): Uint8Array[] | string {
  try {
    return f();
  } catch (e) {
    return `throws ${(e as Error).message}`;
  }
}

describe('DeliveryBatch: the same record bytes as deliveryRecord and the record encoder', () => {
  it('for many random property sets, header tables and bodies, one delivery at a time and in batches', () => {
    fc.assert(
      fc.property(fc.array(delivery, { minLength: 1, maxLength: 5 }), fc.integer({ min: 0, max: 2 ** 40 }), (ds, first) => {
        const msgs = ds.map((d) => ({ msg: message(d.exchange, d.routingKey, d.redelivered, d.body), raw: encodeProps(d.props) }));
        const expected = outcome(() => msgs.map((m, i) => before(m.msg, m.raw, first + i)));
        const batch = new DeliveryBatch();
        const got = outcome(() => {
          msgs.forEach((m, i) => batch.add(m.msg, m.raw, first + i, { invalidUtf8: [] }));
          return fromBatch(batch);
        });
        if (typeof expected === 'string') expect(typeof got).toBe('string');
        else expect(typeof got === 'string' ? got : got.map(text)).toEqual(expected.map(text));
      }),
      { numRuns: 1000 },
    );
  }, 120_000);

  it('takes the direct path for plain messages (so the comparison above covers it)', () => {
    const batch = new DeliveryBatch();
    const plain = fc.sample(plainDelivery, 100);
    let direct = 0;
    plain.forEach((d, i) => {
      const raw = encodeProps(d.props);
      const general = batch.general;
      try {
        batch.add(message(d.exchange, d.routingKey, d.redelivered, d.body), raw, i, { invalidUtf8: [] });
      } catch {
        return;
      }
      if (batch.general === general) direct++;
    });
    expect(direct).toBeGreaterThan(90);
    const typical = encodeProps({ contentType: 'application/json', deliveryMode: 2, messageId: 'user-1-0', timestamp: 1_764_000_000n, headers: [{ name: 'traceparent', value: { type: 'string', value: '00-ab-cd-01' } }, { name: 'x-retries', value: { type: 'int32', value: 1 } }] });
    const before = batch.general;
    batch.take();
    batch.add(message('', 'jobs', true, new Uint8Array([1, 2, 3])), typical, 0, { invalidUtf8: [] });
    expect(batch.general).toBe(before);
    const [rec] = fromBatch(batch);
    expect(Buffer.from(rec!).toString('utf8')).toContain(
      '{"exchange":"","properties":{"contentType":"application/json","deliveryMode":2,"headers":[{"name":"traceparent","value":{"type":"string","value":"00-ab-cd-01"}},{"name":"x-retries","value":{"type":"int32","value":1}}],"messageId":"user-1-0","timestamp":1764000000},"redelivered":true,"routingKey":"jobs"}',
    );
  });

  it('writes the exchange, routing key and redelivered flag of each delivery, when they repeat or change', () => {
    const raw = encodeProps({ contentType: 'text/plain', timestamp: 5n });
    const names: Array<[string, string, boolean]> = [
      ['', 'q', false],
      ['', 'q', true],
      ['', 'q', false],
      ['x"y', 'q', false],
      ['', 'q', true],
      ['', 'r\\s', false],
      ['', 'q2', false],
      ['ex', 'q2', true],
      ['', 'q', false],
    ];
    const batch = new DeliveryBatch();
    const msgs = names.map(([e, k, r], i) => message(e, k, r, Buffer.from(`b${i}`)));
    msgs.forEach((m, i) => batch.add(m, raw, i, { invalidUtf8: [] }));
    expect(batch.general).toBe(2);
    expect(fromBatch(batch).map(text)).toEqual(msgs.map((m, i) => text(before(m, raw, i))));
  });

  it('notes property strings that are not UTF-8, as the general decoder does', () => {
    const batch = new DeliveryBatch();
    const notes = { invalidUtf8: [] as string[] };
    batch.add(message('', 'q', false, new Uint8Array()), encodeProps({ messageId: new Uint8Array([0xff, 0x41]) }), 0, notes);
    expect(notes.invalidUtf8).toEqual(['property message-id']);
  });

  it('reuses its buffer: a batch taken, then another, each holds only its own records', () => {
    const batch = new DeliveryBatch();
    const raw = encodeProps({ contentType: 'text/plain' });
    batch.add(message('', 'a', false, Buffer.from('one')), raw, 0, { invalidUtf8: [] });
    const first = fromBatch(batch);
    batch.add(message('', 'b', false, Buffer.from('two')), raw, 1, { invalidUtf8: [] });
    batch.add(message('', 'c', false, Buffer.alloc(6 * 1024 * 1024, 7)), raw, 2, { invalidUtf8: [] });
    const second = fromBatch(batch);
    expect(first).toHaveLength(1);
    expect(second).toHaveLength(2);
    expect(Buffer.from(second[1]!).equals(before(message('', 'c', false, Buffer.alloc(6 * 1024 * 1024, 7)), raw, 2))).toBe(true);
    expect(text(second[0]!)).toBe(text(before(message('', 'b', false, Buffer.from('two')), raw, 1)));
    // after a message that grew the buffer past its usual size, the next batch is whole too
    batch.add(message('', 'd', true, Buffer.from('four')), raw, 3, { invalidUtf8: [] });
    expect(fromBatch(batch).map(text)).toEqual([text(before(message('', 'd', true, Buffer.from('four')), raw, 3))]);
  });
});
