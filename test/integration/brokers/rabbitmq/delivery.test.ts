/** A delivery as the archive keeps it: every header with its AMQP wire type (captured by connection.ts). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../helpers/brokers.js';
import { amqpMetaOf } from '../../../../src/brokers/rabbitmq/amqp-json.js';
import { toArchiveRecord } from '../../../../src/brokers/rabbitmq/delivery.js';
import { testVhost, TYPED_HEADERS, type TestVhost } from './test-vhost.js';

let t: TestVhost;
let declare: TestVhost['declare'];
let publishRaw: TestVhost['publishRaw'];
let takeAll: TestVhost['takeAll'];

beforeAll(async () => {
  t = await testVhost('rmq-delivery');
  ({ declare, publishRaw, takeAll } = t);
});

afterAll(async () => {
  await t?.close();
});

describe('delivery', () => {
  it('captures every header with its AMQP wire type', async () => {
    const q = uniqueName('typed');
    await declare(q);
    await publishRaw(q, [{ body: Buffer.from('x'), options: { headers: TYPED_HEADERS, contentType: 'text/plain', priority: 4, timestamp: 1700000002 } }]);
    const [m] = await takeAll(q);
    const rec = toArchiveRecord(m!, 0n, { invalidUtf8: [] });
    const h = Object.fromEntries(amqpMetaOf(rec).properties.headers!.map((f) => [f.name, f.value]));
    expect(h.byte).toEqual({ type: 'int8', value: -3 });
    expect(h.ubyte).toEqual({ type: 'uint8', value: 200 });
    expect(h.short).toEqual({ type: 'int16', value: -300 });
    expect(h.ushort).toEqual({ type: 'uint16', value: 60000 });
    expect(h.int).toEqual({ type: 'int32', value: -70000 });
    expect(h.uint).toEqual({ type: 'uint32', value: 4000000000 });
    expect(h.long).toEqual({ type: 'int64', value: '9007199254740993' });
    expect(h.float).toEqual({ type: 'float', value: 1.5 });
    expect(h.double).toEqual({ type: 'double', value: 2 });
    expect(h.dec).toEqual({ type: 'decimal', places: 2, digits: 1234 });
    expect(h.ts).toEqual({ type: 'timestamp', value: 1700000000 });
    expect(h.str).toEqual({ type: 'string', value: 'text ü' });
    expect(h.bin).toEqual({ type: 'bytes', value: Buffer.from([0, 255, 1]).toString('base64') });
    expect(h.flag).toEqual({ type: 'bool', value: false });
    expect(h.nothing).toEqual({ type: 'void' });
    expect(h.list).toEqual({ type: 'array', value: [{ type: 'int8', value: 1 }, { type: 'string', value: 'two' }, { type: 'float', value: 3.25 }] });
    expect(h.nested).toEqual({ type: 'table', value: [{ name: 'inner', value: { type: 'int64', value: '5' } }] });
    expect(amqpMetaOf(rec).properties.priority).toBe(4);
    expect(rec.timestamp).toBe(1700000002000);
  });

});
