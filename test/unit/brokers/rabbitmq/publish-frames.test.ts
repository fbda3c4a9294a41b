import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { messageFrames, publishMethodFrame, setChannel } from '../../../../src/brokers/rabbitmq/publish-frames.js';

const require = createRequire(import.meta.url);
// amqplib's own frame writer (not exported by its package: loaded by path)
const amqplibLib = join(dirname(require.resolve('amqplib')), 'lib');
const defs = require(join(amqplibLib, 'defs.js')) as { BasicPublish: number; BasicProperties: number };
const { Connection } = require(join(amqplibLib, 'connection.js')) as { Connection: { prototype: Record<string, (...a: unknown[]) => unknown> } };

/** The bytes amqplib's Connection#sendMessage writes for one basic.publish. */
function amqplibFrames(channel: number, exchange: string, routingKey: string, props: Record<string, unknown>, content: Buffer, frameMax: number): Buffer {
  const written: Buffer[] = [];
  const conn = {
    frameMax,
    channels: { [channel]: { buffer: { write: (b: Buffer) => written.push(Buffer.from(b)) > 0 } } },
    sendContent: Connection.prototype.sendContent,
  };
  const fields = { exchange, routingKey, mandatory: true, immediate: false, ticket: undefined };
  Connection.prototype.sendMessage!.call(conn, channel, defs.BasicPublish, fields, defs.BasicProperties, props, content);
  return Buffer.concat(written);
}

describe('basic.publish frames written by mqbak', () => {
  it('are the bytes amqplib writes, for bodies from empty to several frames', () => {
    const props = { contentType: 'application/json', deliveryMode: 2, headers: { a: 'b' }, messageId: 'm1', timestamp: 1_764_000_000 };
    // the property bytes as amqplib encodes them (its content-header frame after class, weight and size)
    const headerFrame = amqplibFrames(3, '', 'q', props, Buffer.alloc(0), 4096).subarray(publishMethodFrame(3, '', 'q').length);
    const properties = headerFrame.subarray(7 + 12, headerFrame.length - 1);
    for (const frameMax of [4096, 131072]) {
      const maxBody = frameMax - 8;
      for (const size of [0, 1, 1000, maxBody - 1, maxBody, maxBody + 1, 3 * maxBody + 5]) {
        const content = Buffer.alloc(size, size % 251);
        for (const [exchange, routingKey] of [['', 'orders-restored'], ['ex', 'rk.ü']]) {
          const ours = messageFrames(publishMethodFrame(3, exchange!, routingKey!), 3, properties, content, frameMax);
          expect(ours.equals(amqplibFrames(3, exchange!, routingKey!, props, content, frameMax)), `${frameMax} ${size} ${exchange}`).toBe(true);
        }
      }
    }
  });

  it('moves a message to another channel', () => {
    const content = Buffer.alloc(10_000, 7);
    const frames = messageFrames(publishMethodFrame(0, '', 'q'), 0, Buffer.from([0, 0]), content, 4096);
    setChannel(frames, 513);
    expect(frames.equals(messageFrames(publishMethodFrame(513, '', 'q'), 513, Buffer.from([0, 0]), content, 4096))).toBe(true);
  });

  it('refuses names over 255 bytes and a frame-max with no room for a body', () => {
    expect(() => publishMethodFrame(1, '', 'q'.repeat(256))).toThrow(RangeError);
    expect(() => messageFrames(publishMethodFrame(1, '', 'q'), 1, Buffer.from([0, 0]), Buffer.alloc(1), 8)).toThrow(RangeError);
  });
});
