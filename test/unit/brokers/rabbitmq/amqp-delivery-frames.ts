// Delivery frames as a broker sends them, written by amqplib's own encoder: for the tests of the
// delivery parser (delivery-frames.test.ts) and of the frame reader (frame-reader.test.ts).
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);
// amqplib's own frame writer and reader (not exported by its package: loaded by path)
export const amqplibLib = join(dirname(require.resolve('amqplib')), 'lib');
export const defs = require(join(amqplibLib, 'defs.js')) as {
  BasicDeliver: number;
  BasicAck: number;
  BasicProperties: number;
  encodeMethod(id: number, channel: number, fields: Record<string, unknown>): Buffer;
  encodeProperties(id: number, channel: number, size: number, fields: Record<string, unknown>): Buffer;
};
export const frame = require(join(amqplibLib, 'frame.js')) as { makeBodyFrame(channel: number, payload: Buffer): Buffer; HEARTBEAT_BUF: Buffer };

export const PROPS = { contentType: 'application/json', deliveryMode: 2, headers: { a: 'b', n: 7 }, messageId: 'm-ü', timestamp: 1_764_000_000 };

export interface Sent {
  bytes: Buffer;
  fields: { consumerTag: string; deliveryTag: number; redelivered: boolean; exchange: string; routingKey: string };
  /** The content header's property bytes. */
  raw: Buffer;
  content: Buffer;
}

/** The frames a broker sends for one delivery, as amqplib's encoder writes them, bodies cut at `maxBody`. */
export function delivery(channel: number, deliveryTag: number, content: Buffer, maxBody = 131072 - 8, exchange = 'ex', routingKey = 'rk.ü'): Sent {
  const fields = { consumerTag: 'amq.ctag-1', deliveryTag, redelivered: deliveryTag % 2 === 0, exchange, routingKey };
  const method = defs.encodeMethod(defs.BasicDeliver, channel, fields);
  const header = defs.encodeProperties(defs.BasicProperties, channel, content.length, PROPS);
  const bodies: Buffer[] = [];
  for (let at = 0; at < content.length; at += maxBody) bodies.push(frame.makeBodyFrame(channel, content.subarray(at, at + maxBody)));
  return { bytes: Buffer.concat([method, header, ...bodies]), fields, raw: header.subarray(7 + 12, header.length - 1), content };
}
