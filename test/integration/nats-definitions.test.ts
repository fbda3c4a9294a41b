/**
 * Stream and durable consumer definitions against the real nats-server: saved, restored under a
 * new name with renamed subjects, and a consumer that resumes on the target at the first message
 * it had not acknowledged on the source.
 */
import { describe, expect, it } from 'vitest';
import type { JsMsg } from '@nats-io/jetstream';
import { MqbakError } from '../../src/common/errors.js';
import {
  consumedThrough,
  describeStream,
  readStream,
  restoreConsumer,
  restoreStream,
  saveConsumers,
  StreamPublisher,
  subjectRenamer,
  type NatsConnection,
} from '../../src/brokers/nats/index.js';
import { createStream, useNatsConnection, publishMany } from '../helpers/nats.js';
import { uniqueName } from '../helpers/brokers.js';

let conn: NatsConnection;
const streams: string[] = [];

useNatsConnection((c) => (conn = c), streams);

async function fetchSome(stream: string, consumer: string, n: number): Promise<JsMsg[]> {
  const c = await conn.js.consumers.get(stream, consumer);
  const out: JsMsg[] = [];
  const it = await c.fetch({ max_messages: n, expires: 2000 });
  for await (const m of it) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}

describe('NATS definitions', () => {
  it('restores a stream under a new name and a durable consumer at its first unacknowledged message', async () => {
    const src = await createStream(conn, 'nats-def-src', { max_msgs: 1000, duplicate_window: 60_000_000_000, description: 'orders' });
    streams.push(src);
    await publishMany(conn, `${src}.eu.a`, 20, (i) => `m${i + 1}`);
    await conn.jsm.consumers.add(src, { durable_name: 'worker', ack_policy: 'explicit' as never, filter_subject: `${src}.eu.>`, max_deliver: 7, ack_wait: 30_000_000_000 });
    await conn.jsm.consumers.add(src, { durable_name: 'ledger', ack_policy: 'none' as never });
    // worker: 10 delivered, 1..6 and 8 acknowledged: its ack floor is 6
    const got = await fetchSome(src, 'worker', 10);
    for (const m of got) if (m.seq <= 6 || m.seq === 8) await m.ackAck();
    // ledger: 4 delivered, no acks
    await fetchSome(src, 'ledger', 4);
    // messages deleted before the backup shift the target sequences
    await conn.jsm.streams.deleteMessage(src, 2);
    await conn.jsm.streams.deleteMessage(src, 3);

    const info = await describeStream(conn, src);
    const consumers = await saveConsumers(conn, src);
    expect(consumers.map((c) => c.name)).toEqual(['ledger', 'worker']);
    const worker = consumers[1]!;
    expect(worker).toMatchObject({ ackFloor: { streamSeq: 6 }, delivered: { streamSeq: 10 }, numAckPending: 3 });
    expect(consumedThrough(worker)).toBe(6);
    expect(consumedThrough(consumers[0]!)).toBe(4);

    // restore: new name, subjects renamed, messages published through the publisher
    const dst = uniqueName('nats-def-dst');
    streams.push(dst);
    const rename = subjectRenamer([{ from: `${src}.>`, to: `${dst}.>` }]);
    const made = await restoreStream(conn, info.config, { name: dst, renameSubject: rename });
    expect(made.created).toBe(true);
    const target = await describeStream(conn, dst);
    expect(target.subjects).toEqual([`${dst}.>`]);
    expect(target.config).toMatchObject({ max_msgs: 1000, description: 'orders', retention: 'limits', duplicate_window: info.config.duplicate_window });

    const map = new Map<number, number>();
    const pub = await StreamPublisher.open(conn, { stream: dst });
    for await (const b of readStream(conn, src, { from: 1, to: info.lastSeq })) {
      const out = await pub.publish(b.records.map((r) => ({ subject: rename(r.subject), headers: r.headers, data: r.data, sourceSeq: r.seq })));
      for (const o of out) if (o.ok) map.set(o.sourceSeq, o.targetSeq);
    }
    pub.close();
    expect(map.get(7)).toBe(5);
    const firstAfter = (seq: number): number => Math.min(...[...map].filter(([s]) => s > seq).map(([, t]) => t));

    for (const c of consumers) {
      const r = await restoreConsumer(conn, dst, c, { renameSubject: rename, startSeq: firstAfter(consumedThrough(c)) });
      expect(r.created).toBe(true);
    }
    const restored = await conn.jsm.consumers.info(dst, 'worker');
    expect(restored.config).toMatchObject({ durable_name: 'worker', ack_policy: 'explicit', filter_subject: `${dst}.eu.>`, max_deliver: 7, ack_wait: 30_000_000_000 });
    // the worker resumes at source message 7 (target 5): 7 was delivered but never acknowledged
    const [next] = await fetchSome(dst, 'worker', 1);
    expect(next!.seq).toBe(5);
    expect(new TextDecoder().decode(next!.data)).toBe('m7');
    const [ledgerNext] = await fetchSome(dst, 'ledger', 1);
    expect(new TextDecoder().decode(ledgerNext!.data)).toBe('m5');

    // a rerun finds both in place
    expect((await restoreStream(conn, info.config, { name: dst, renameSubject: rename })).created).toBe(false);
    expect((await restoreConsumer(conn, dst, worker, { renameSubject: rename, startSeq: 1 })).created).toBe(false);
    // the same name with other subjects is refused
    const e = await restoreStream(conn, info.config, { name: dst }).catch((x: unknown) => x);
    expect((e as MqbakError).code).toBe('exists');
  });
});
