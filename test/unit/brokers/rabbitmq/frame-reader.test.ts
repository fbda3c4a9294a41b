// The frame reader's direct path over amqplib 2.3's connection fields, fed real frame bytes in
// socket reads cut at every offset; delivery-frames.test.ts covers the parser itself.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ChannelModel, Channel, ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { installFrameReader, rawPropertiesOf, READ_HELD, takeDeliveriesDirectly } from '../../../../src/brokers/rabbitmq/frame-reader.js';
import { amqplibLib, delivery } from './amqp-delivery-frames.js';

const require = createRequire(import.meta.url);
const { Connection } = require(join(amqplibLib, 'connection.js')) as { Connection: { prototype: { recvFrame(): unknown } } };

/** A connection as amqplib 2.3 has it (rest, stream, channels, its own recvFrame), fed `chunks` one socket read at a time. */
function fakeConnection(chunks: Buffer[], maxFrameSize = 131072) {
  const queue = [...chunks];
  const between = function acceptDeliveryOrReturn() {};
  const channel = Object.assign(Object.create({ accept() {} }) as object, { handleMessage: between as unknown });
  const conn = {
    rest: Buffer.alloc(0),
    maxFrameSize,
    recvSinceLastCheck: false,
    stream: { read: () => queue.shift() ?? null },
    channels: [undefined, { channel }] as unknown[],
    recvFrame: Connection.prototype.recvFrame,
  };
  installFrameReader({ connection: conn } as unknown as ChannelModel);
  const direct: ConsumeMessage[] = [];
  takeDeliveriesDirectly(channel as unknown as Channel, (m) => direct.push(m));
  /** amqplib's accept loop: frames until recvFrame says none; again while chunks are left. */
  const frames = (): Array<{ id?: number; channel?: number; fields?: unknown; content?: Buffer }> => {
    const got = [];
    for (let guard = 0; guard < 10_000; guard++) {
      const f = conn.recvFrame() as ReturnType<typeof frames>[number] | false;
      if (f) got.push(f);
      else if (queue.length === 0) return got;
    }
    throw new Error('the reader did not stop');
  };
  return { conn, channel, direct, frames };
}

describe('the frame reader with deliveries taken directly', () => {
  it('hands on every delivery whole, wherever the socket reads cut the bytes', () => {
    const sent = [delivery(1, 1, Buffer.alloc(0)), delivery(1, 2, Buffer.alloc(300, 2)), delivery(1, 3, Buffer.alloc(9000, 3), 4088), delivery(1, 4, Buffer.alloc(1, 4))];
    const bytes = Buffer.concat(sent.map((s) => s.bytes));
    for (let cut = 0; cut <= bytes.length; cut += cut < 400 ? 1 : 7) {
      for (const second of [cut, Math.min(bytes.length, cut + 13)]) {
        const { direct, frames } = fakeConnection([bytes.subarray(0, cut), bytes.subarray(cut, second), bytes.subarray(second)].filter((c) => c.length > 0), 4096);
        expect(frames(), `cut ${cut}`).toEqual([]);
        expect(direct.length).toBe(sent.length);
        direct.forEach((m, i) => {
          expect(m.fields).toEqual(sent[i]!.fields);
          expect(Buffer.compare(m.content, sent[i]!.content)).toBe(0);
          expect(Buffer.compare(rawPropertiesOf(m), sent[i]!.raw)).toBe(0);
        });
      }
    }
  });

  it("leaves a delivery to amqplib while its channel is within a message, and a large one", () => {
    const small = delivery(1, 1, Buffer.alloc(100, 1));
    const busy = fakeConnection([small.bytes]);
    busy.channel.handleMessage = function content() {};
    const f = busy.frames();
    expect(busy.direct).toEqual([]);
    // method (decoded by amqplib), content header (left raw on this channel), body
    expect(f.length).toBe(3);
    expect(f[0]!.fields).toEqual(small.fields);
    expect(Buffer.compare(rawPropertiesOf({ properties: f[1]!.fields } as ConsumeMessage), small.raw)).toBe(0);
    expect(Buffer.compare(f[2]!.content!, small.content)).toBe(0);

    const large = delivery(1, 2, Buffer.alloc(300_000, 2));
    const chunks: Buffer[] = [];
    for (let at = 0; at < large.bytes.length; at += 65536) chunks.push(large.bytes.subarray(at, at + 65536));
    const big = fakeConnection(chunks);
    const g = big.frames();
    expect(big.direct).toEqual([]);
    expect(g.length).toBe(2 + 3);
    expect(Buffer.compare(Buffer.concat(g.slice(2).map((x) => x.content!)), large.content)).toBe(0);
  });

  it('stops after the delivery it handed on when reading is held off', () => {
    const sent = [1, 2, 3].map((t) => delivery(1, t, Buffer.alloc(10, t)));
    const { conn, direct } = fakeConnection([Buffer.concat(sent.map((s) => s.bytes))]);
    (conn as unknown as Record<symbol, boolean>)[READ_HELD] = true;
    expect(conn.recvFrame()).toBe(false);
    expect(direct.length).toBe(1);
    (conn as unknown as Record<symbol, boolean>)[READ_HELD] = false;
    expect(conn.recvFrame()).toBe(false);
    expect(direct.map((m) => m.fields.deliveryTag)).toEqual([1, 2, 3]);
  });
});
