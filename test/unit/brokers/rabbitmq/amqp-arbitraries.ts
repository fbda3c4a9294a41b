// fast-check arbitraries for AMQP field values, shared by the codec and delivery-batch tests.
import fc from 'fast-check';
import type { AmqpValue } from '../../../../src/brokers/rabbitmq/amqp-types.js';

/** Byte arrays, booleans and every integer type over its whole range (strings, floats, decimals and timestamps are each test's own). */
export const fixedScalars: Array<fc.Arbitrary<AmqpValue>> = [
  fc.uint8Array({ maxLength: 20 }).map((b) => ({ type: 'bytes' as const, value: Buffer.from(b).toString('base64') })),
  fc.boolean().map((value) => ({ type: 'bool' as const, value })),
  fc.integer({ min: -128, max: 127 }).map((value) => ({ type: 'int8' as const, value })),
  fc.integer({ min: 0, max: 255 }).map((value) => ({ type: 'uint8' as const, value })),
  fc.integer({ min: -32768, max: 32767 }).map((value) => ({ type: 'int16' as const, value })),
  fc.integer({ min: 0, max: 65535 }).map((value) => ({ type: 'uint16' as const, value })),
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }).map((value) => ({ type: 'int32' as const, value })),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }).map((value) => ({ type: 'uint32' as const, value })),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((v) => ({ type: 'int64' as const, value: v.toString() })),
  fc.record({ places: fc.integer({ min: 0, max: 255 }), digits: fc.integer({ min: 0, max: 2 ** 32 - 1 }) }).map((d) => ({ type: 'decimal' as const, ...d })),
  fc.constant({ type: 'void' as const }),
];
