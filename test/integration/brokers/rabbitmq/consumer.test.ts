/** A consumer that closes without acknowledging returns a classic queue intact and in order. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../../helpers/brokers.js';
import { QueueConsumer } from '../../../../src/brokers/rabbitmq/consumer.js';
import { testVhost, type TestVhost } from './test-vhost.js';

let t: TestVhost;
let conn: TestVhost['conn'];
let declare: TestVhost['declare'];
let publishRaw: TestVhost['publishRaw'];
let takeAll: TestVhost['takeAll'];

beforeAll(async () => {
  t = await testVhost('rmq-consumer');
  ({ conn, declare, publishRaw, takeAll } = t);
});

afterAll(async () => {
  await t?.close();
});

describe('consumer', () => {
  it('a consumer that closes without acking returns a classic queue intact and in order, also across several consumers', async () => {
    const q = uniqueName('peek');
    await declare(q);
    const n = 25;
    await publishRaw(q, Array.from({ length: n }, (_, i) => ({ body: Buffer.from(`m${i}`), options: {} })));
    // per-consumer cap of 4: seven consumers on one channel share the 25 deliveries
    const c = await QueueConsumer.open(conn, q, { prefetch: n, maxPrefetchPerConsumer: 4 });
    const seen: string[] = [];
    while (seen.length < n) {
      const m = await c.next(5000);
      if (!m) break;
      seen.push(m.content.toString());
    }
    await c.close();
    expect(seen).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    const after = await takeAll(q);
    expect(after.map((m) => m.content.toString())).toEqual(seen);
    expect(after.every((m) => m.fields.redelivered)).toBe(true);
  });

});
