import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { MORE, parseDelivery } from '../../../../src/brokers/rabbitmq/delivery-frames.js';
import { defs, delivery, frame, type Sent } from './amqp-delivery-frames.js';

const rawProps = (raw: Buffer) => ({ raw }) as unknown as ConsumeMessage['properties'];

function expectMessage(m: ConsumeMessage, s: Sent): void {
  expect(m.fields).toEqual(s.fields);
  expect(Buffer.compare(m.content, s.content)).toBe(0);
  expect(Buffer.compare((m.properties as unknown as { raw: Buffer }).raw, s.raw)).toBe(0);
}

const BODY_SIZES = [0, 1, 1000, 4088, 4089, 3 * 4088 + 5];

describe('parseDelivery', () => {
  it('reads deliveries whole, bodies empty, in one frame and over several, and says MORE for every cut short of the end', () => {
    for (const size of BODY_SIZES) {
      const s = delivery(5, size + 1, Buffer.alloc(size, size % 251), 4088);
      const at = { end: -1 };
      const m = parseDelivery(s.bytes, 4096, rawProps, at);
      expect(m).not.toBeNull();
      expect(m).not.toBe(MORE);
      expectMessage(m as ConsumeMessage, s);
      expect(at.end).toBe(s.bytes.length);
      for (let cut = 0; cut < s.bytes.length; cut++) {
        expect(parseDelivery(s.bytes.subarray(0, cut), 4096, rawProps, at), `size ${size} cut ${cut}`).toBe(MORE);
      }
    }
  });

  it('stops at the end of its own frames', () => {
    const a = delivery(1, 1, Buffer.from('first'));
    const b = delivery(1, 2, Buffer.from('second'));
    const at = { end: 0 };
    const all = Buffer.concat([a.bytes, b.bytes, frame.HEARTBEAT_BUF]);
    expectMessage(parseDelivery(all, 0, rawProps, at) as ConsumeMessage, a);
    expect(at.end).toBe(a.bytes.length);
    expectMessage(parseDelivery(all.subarray(at.end), 0, rawProps, at) as ConsumeMessage, b);
    expect(at.end).toBe(b.bytes.length);
  });

  it('leaves to amqplib what is not a delivery laid out as expected', () => {
    const at = { end: 0 };
    const s = delivery(3, 1, Buffer.alloc(5000, 1), 4088);
    const methodLength = 7 + s.bytes.readUInt32BE(3) + 1;
    const headerLength = 7 + s.bytes.readUInt32BE(methodLength + 3) + 1;
    const bodyAt = methodLength + headerLength;
    // another method
    expect(parseDelivery(defs.encodeMethod(defs.BasicAck, 3, { deliveryTag: 1, multiple: false }), 0, rawProps, at)).toBeNull();
    // a content header or a heartbeat first
    expect(parseDelivery(s.bytes.subarray(methodLength), 0, rawProps, at)).toBeNull();
    expect(parseDelivery(frame.HEARTBEAT_BUF, 0, rawProps, at)).toBeNull();
    // a heartbeat between the header and the body
    expect(parseDelivery(Buffer.concat([s.bytes.subarray(0, bodyAt), frame.HEARTBEAT_BUF, s.bytes.subarray(bodyAt)]), 0, rawProps, at)).toBeNull();
    // a body frame of another channel
    const other = Buffer.from(s.bytes);
    other.writeUInt16BE(4, bodyAt + 1);
    expect(parseDelivery(other, 0, rawProps, at)).toBeNull();
    // a wrong end octet on each of the three frames
    for (const end of [methodLength - 1, bodyAt - 1, s.bytes.length - 1]) {
      const broken = Buffer.from(s.bytes);
      broken[end] = 0;
      expect(parseDelivery(broken, 0, rawProps, at), `end at ${end}`).toBeNull();
    }
    // more body than the header announced
    const short = Buffer.from(s.bytes);
    short.writeUInt32BE(4000, methodLength + 7 + 8);
    expect(parseDelivery(short, 0, rawProps, at)).toBeNull();
    // a frame over the limit
    expect(parseDelivery(s.bytes, 1000, rawProps, at)).toBeNull();
    // a name running past its method frame
    const long = Buffer.from(s.bytes);
    long[7 + 4] = 200;
    expect(parseDelivery(long, 0, rawProps, at)).toBeNull();
    // and the untouched bytes are taken
    expectMessage(parseDelivery(s.bytes, 4096, rawProps, at) as ConsumeMessage, s);
  });

  it('reads the names of each delivery right when they repeat, change, or differ in one byte', () => {
    const at = { end: 0 };
    const names: Array<[string, string]> = [
      ['ex', 'rk.ü'],
      ['ex', 'rk.ü'],
      ['', 'rk.ü'],
      ['ex', 'rk.ä'],
      ['ex', 'rk.ä'],
      ['fx', 'rk.ä'],
      ['ex', 'rk.ü'],
      ['e', 'rk'],
      ['', ''],
      ['x'.repeat(255), 'y'.repeat(255)],
      ['x'.repeat(254) + 'z', 'y'.repeat(255)],
    ];
    // names repeated from the delivery before are reused, not read again: a change must show
    names.forEach(([exchange, routingKey], i) => {
      const s = delivery(1, i + 1, Buffer.from(`m${i}`), 4088, exchange, routingKey);
      expectMessage(parseDelivery(s.bytes, 0, rawProps, at) as ConsumeMessage, s);
    });
  });
});
