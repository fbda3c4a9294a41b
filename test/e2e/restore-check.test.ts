/**
 * restore --check and --check-only through the mqbak binary against the real brokers (Kafka, a
 * RabbitMQ classic, quorum and stream queue, a JetStream stream): a good restore reads back equal
 * to the archive (exit 0, the count said); a target where one record differs from what the
 * archive holds fails with exit 4 naming that record by stream and position. Kafka, stream-queue
 * and JetStream records cannot be changed in place, so there the changed target holds the same
 * records with one altered; the classic queue gets its messages republished with one body altered.
 */
import { describe, expect, it } from 'vitest';
import { Kafka, logLevel } from 'kafkajs';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { produceVaried, url as kafkaUrl, useTempDirs } from '../helpers/kafka-e2e.js';
import { runMqbak } from '../helpers/run-mqbak.js';
import { body, declare, env as rabbitEnv, fullProperties, readQueue, streamProperties, typedHeaders, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';
import { queueDepth } from '../../src/brokers/rabbitmq/index.js';
import { bytes, natsConnect, publishRaw, useNatsConnection } from '../helpers/nats.js';
import { natsUrl } from '../helpers/brokers.js';
import type { NatsConnection } from '../../src/brokers/nats/index.js';

const tempDir = useTempDirs();
const { newVhost, newStore } = useRabbitE2e();
const noStack = /\n\s+at /;
let nats: NatsConnection;
const natsStreams: string[] = [];
useNatsConnection((c) => (nats = c), natsStreams);

describe('restore --check with Kafka', () => {
  it('passes on a good restore; fails with exit 4 naming the record where the target holds a changed value', async () => {
    const dir = await tempDir();
    const topic = uniqueName('chk');
    await kafkaCreateTopic(topic, 2);
    await produceVaried(topic, 2, 20);
    const b = await runMqbak(['backup', kafkaUrl(), dir, '--topics', topic]);
    expect(b.code, b.stderr).toBe(0);

    const copy = `${topic}-copy`;
    const good = await runMqbak(['restore', dir, kafkaUrl(), '--map', `${topic}=${copy}`, '--check'], { env: { XDG_STATE_HOME: dir } });
    expect(good.stderr).not.toMatch(noStack);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^check: ok: 20 records read back from 2 partitions equal the archive$/m);
    // the same restore in JSON: the check's result, a digest per partition
    const again = await runMqbak(['restore', dir, kafkaUrl(), '--map', `${topic}=${copy}`, '--check-only', '--json']);
    expect(again.code, again.stderr).toBe(0);
    const j = JSON.parse(again.stdout) as { check: { ok: boolean; records: number; streams: Array<{ expected: number; found: number; digest: string }> } };
    expect(j.check.ok).toBe(true);
    expect(j.check.records).toBe(20);
    expect(j.check.streams.map((s) => [s.expected, s.found])).toEqual([
      [10, 10],
      [10, 10],
    ]);
    expect(j.check.streams[0]!.digest).toMatch(/^[0-9a-f]{64}$/);

    // a target like the restore's, but record 7 (partition 1, offset 3) has another value
    const changed = `${topic}-changed`;
    await kafkaCreateTopic(changed, 2);
    await produceVaried(changed, 2, 7);
    const p = new Kafka({ brokers: kafkaBrokers(), clientId: uniqueName('chk'), logLevel: logLevel.NOTHING }).producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    await p.send({ topic: changed, acks: -1, messages: [{ partition: 1, key: Buffer.from([0, 255, 7, 10]), value: Buffer.from('changed'), headers: {}, timestamp: String(1_700_000_007_000) }] });
    await p.disconnect();
    await produceVaried(changed, 2, 12, 8);
    const bad = await runMqbak(['restore', dir, kafkaUrl(), '--map', `${topic}=${changed}`, '--check-only']);
    expect(bad.stderr).not.toMatch(noStack);
    expect(bad.code, bad.stderr + bad.stdout).toBe(4);
    expect(bad.stderr).toContain(`mqbak: error: restore check: kafka/${topic}/1 -> ${changed}[1]: record at source position 3 (target position 3): value differs`);
    expect(bad.stdout).toMatch(/^check: FAILED: /m);
  });
});

describe('restore --check with RabbitMQ', () => {
  it('a classic queue: passes on a good restore (by a mirror read); fails with exit 4 naming the message republished with another body', async () => {
    const { url, conn } = await newVhost('check');
    const store = await newStore();
    const n = 30;
    // every property type, and a broker-owned header the restore renames
    const props = (i: number) => ({ ...fullProperties(i), headers: { ...typedHeaders(i), 'x-first-death-reason': 'expired' } });
    await declare(conn, 'jobs');
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < n; i++) ch.sendToQueue('jobs', body(i), props(i));
    await ch.waitForConfirms();
    const b = await runMqbak(['backup', url, store, '--queues', 'jobs'], { env: rabbitEnv });
    expect(b.code, b.stderr).toBe(0);

    await declare(conn, 'jobs-copy');
    const good = await runMqbak(['restore', store, url, '--map', 'jobs=jobs-copy', '--check'], { env: { ...rabbitEnv, XDG_STATE_HOME: store } });
    expect(good.stderr).not.toMatch(noStack);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^check: ok: 30 records read back from 1 queue equal the archive$/m);
    // the mirror read returned every message, in order, marked redelivered: equal still
    expect((await queueDepth(conn, 'jobs-copy')).messages).toBe(n);
    const again = await runMqbak(['restore', store, url, '--map', 'jobs=jobs-copy', '--check-only'], { env: rabbitEnv });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^check: ok: 30 records read back from 1 queue equal the archive$/m);

    // the restored messages taken off the queue and published again as the restore wrote them
    // (the broker-owned header renamed), message 17 with another body
    const restored = await readQueue(conn, 'jobs-copy', true);
    expect(restored).toHaveLength(n);
    for (let i = 0; i < n; i++) {
      const { 'x-first-death-reason': reason, ...headers } = props(i).headers;
      ch.sendToQueue('jobs-copy', i === 17 ? Buffer.from('changed') : body(i), { ...props(i), headers: { ...headers, 'x-mqbak-original-first-death-reason': reason } });
    }
    await ch.waitForConfirms();
    expect((await queueDepth(conn, 'jobs-copy')).messages).toBe(n);
    await ch.close();
    const bad = await runMqbak(['restore', store, url, '--map', 'jobs=jobs-copy', '--check-only'], { env: rabbitEnv });
    expect(bad.stderr).not.toMatch(noStack);
    expect(bad.code, bad.stderr + bad.stdout).toBe(4);
    expect(bad.stderr).toMatch(/mqbak: error: restore check: rabbitmq\/[^ ]+\/jobs -> queue jobs-copy: record at source position 17 \(target position 17\): value differs/);
  });
});

describe('restore --check with a RabbitMQ quorum queue', () => {
  it('reads back equal, and equal again after the mirror read returned the messages (x-delivery-count added, headers re-sorted by the broker: neither is a difference)', async () => {
    const { url, conn } = await newVhost('check-quorum');
    const store = await newStore();
    const quorum = { 'x-queue-type': 'quorum' };
    await declare(conn, 'orders', quorum);
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 10; i++) ch.sendToQueue('orders', body(i), fullProperties(i));
    await ch.waitForConfirms();
    await ch.close();
    const b = await runMqbak(['backup', url, store, '--queues', 'orders'], { env: rabbitEnv });
    expect(b.code, b.stderr).toBe(0);
    await declare(conn, 'orders-copy', quorum);
    const good = await runMqbak(['restore', store, url, '--map', 'orders=orders-copy', '--check'], { env: { ...rabbitEnv, XDG_STATE_HOME: store } });
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^check: ok: 10 records read back from 1 queue equal the archive$/m);
    const again = await runMqbak(['restore', store, url, '--map', 'orders=orders-copy', '--check-only'], { env: rabbitEnv });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^check: ok: 10 records read back from 1 queue equal the archive$/m);
    // the returned messages carry the broker's delivery count
    const after = await readQueue(conn, 'orders-copy', false);
    expect(after).toHaveLength(10);
    expect(after[0]!.properties.headers?.['x-delivery-count']).toBeGreaterThan(0);
  });
});

describe('restore --check with a RabbitMQ stream queue', () => {
  it('passes on a good restore (read by offset over the mapped offsets); fails with exit 4 naming the message whose body differs', async () => {
    const { url, conn } = await newVhost('check-stream');
    const store = await newStore();
    const n = 12;
    const stream = { 'x-queue-type': 'stream' };
    const publish = async (queue: string, changed: number | null) => {
      const ch = await conn.model.createConfirmChannel();
      for (let i = 0; i < n; i++) ch.sendToQueue(queue, i === changed ? Buffer.from('changed') : body(i), streamProperties(i));
      await ch.waitForConfirms();
      await ch.close();
    };
    await declare(conn, 'events', stream);
    await publish('events', null);
    const b = await runMqbak(['backup', url, store, '--queues', 'events'], { env: rabbitEnv });
    expect(b.code, b.stderr).toBe(0);

    await declare(conn, 'events-copy', stream);
    const good = await runMqbak(['restore', store, url, '--map', 'events=events-copy', '--check'], { env: { ...rabbitEnv, XDG_STATE_HOME: store } });
    expect(good.stderr).not.toMatch(noStack);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^check: ok: 12 records read back from 1 queue equal the archive$/m);

    // a stream holding the same messages, the fifth (offset 4) with another body
    await declare(conn, 'events-changed', stream);
    await publish('events-changed', 4);
    const bad = await runMqbak(['restore', store, url, '--map', 'events=events-changed', '--check-only'], { env: rabbitEnv });
    expect(bad.stderr).not.toMatch(noStack);
    expect(bad.code, bad.stderr + bad.stdout).toBe(4);
    expect(bad.stderr).toMatch(/mqbak: error: restore check: rabbitmq\/[^ ]+\/events -> queue events-changed: record at source position 4 \(target position 4\): value differs/);
  });
});

describe('restore --check with NATS JetStream', () => {
  it('passes on a good restore (headers in order, renamed subjects); fails with exit 4 naming the message whose data differs', async () => {
    const src = uniqueName('chk');
    await nats.jsm.streams.add({ name: src, subjects: [`${src}.>`] });
    natsStreams.push(src);
    const message = (i: number, stream: string) => ({
      subject: `${stream}.${i % 2 ? 'a' : 'b.c'}`,
      data: bytes(i === 5 && stream.endsWith('-changed') ? 'changed' : `m${i}\u0000`),
      block: i % 3 ? bytes(`NATS/1.0\r\nA: ${i}\r\nB: x\r\nA: again\r\n\r\n`) : undefined,
    });
    for (let i = 0; i < 12; i++) {
      const m = message(i, src);
      await publishRaw(nats, m.subject, m.data, m.block);
    }
    const store = await tempDir();
    const b = await runMqbak(['backup', natsUrl(), store, '--streams', src]);
    expect(b.code, b.stderr).toBe(0);

    const dst = `${src}-copy`;
    natsStreams.push(dst);
    const good = await runMqbak(['restore', store, natsUrl(), '--map', `${src}=${dst}`, '--subject-map', `${src}.>=${dst}.>`, '--check'], { env: { XDG_STATE_HOME: store } });
    expect(good.stderr).not.toMatch(noStack);
    expect(good.code, good.stderr).toBe(0);
    expect(good.stdout).toMatch(/^check: ok: 12 records read back from 1 stream equal the archive$/m);

    // a stream holding the same messages, the sixth (sequence 6) with other data
    const changed = `${src}-changed`;
    await nats.jsm.streams.add({ name: changed, subjects: [`${changed}.>`] });
    natsStreams.push(changed);
    for (let i = 0; i < 12; i++) {
      const m = message(i, changed);
      await publishRaw(nats, m.subject, m.data, m.block);
    }
    const bad = await runMqbak(['restore', store, natsUrl(), '--map', `${src}=${changed}`, '--subject-map', `${src}.>=${changed}.>`, '--check-only']);
    expect(bad.stderr).not.toMatch(noStack);
    expect(bad.code, bad.stderr + bad.stdout).toBe(4);
    expect(bad.stderr).toContain(`mqbak: error: restore check: nats/${src} -> stream ${changed}: record at source position 6 (target position 6): value differs`);
  });
});
