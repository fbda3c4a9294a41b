/**
 * Records in message format v0 (Kafka before 0.10) carry no timestamp. A backup of them and a
 * restore through the binary must write Kafka's "no timestamp" (-1) for them, as a broker does when
 * it converts v0 messages, not the time of the restore (issue 14). The test broker (librdkafka's
 * mock cluster) stores a legacy v0 MessageSet as it was produced and serves it as it is, so the
 * backup reads real v0 messages (through kafkajs' consumer, to which mqbak's reader hands them).
 */
import { describe, expect, it } from 'vitest';
import { runMqbak } from '../helpers/run-mqbak.js';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { readAll, url, useTempDirs } from '../helpers/kafka-e2e.js';
import { rawRequest, Writer } from '../helpers/kafka-wire.js';

const newDir = useTempDirs();

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE), the checksum of a v0 message. */
function crc32(b: Buffer): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function bytesField(b: Buffer | null): Buffer {
  if (b === null) return new Writer().i32(-1).buf();
  return Buffer.concat([new Writer().i32(b.length).buf(), b]);
}

/** A MessageSet of v0 messages: offset, size, crc, magic 0, attributes 0 (no compression), key, value. */
function messageSetV0(messages: Array<{ key: Buffer | null; value: Buffer | null }>): Buffer {
  return Buffer.concat(
    messages.map((m, i) => {
      const body = Buffer.concat([Buffer.from([0, 0]), bytesField(m.key), bytesField(m.value)]);
      const crc = Buffer.alloc(4);
      crc.writeUInt32BE(crc32(body));
      const message = Buffer.concat([crc, body]);
      return Buffer.concat([new Writer().i64(BigInt(i)).i32(message.length).buf(), message]);
    }),
  );
}

/** Produce v2 (the last version carrying MessageSets) of `set` to partition 0, at whichever broker leads it. */
async function produceV2(topic: string, set: Buffer): Promise<void> {
  const body = Buffer.concat([new Writer().i16(-1).i32(10_000).i32(1).str(topic).i32(1).i32(0).i32(set.length).buf(), set]);
  const errors: number[] = [];
  for (const address of kafkaBrokers()) {
    const r = await rawRequest(address, 0, 2, body);
    r.i32(); // topics
    r.str();
    r.i32(); // partitions
    r.i32();
    const error = r.i16();
    if (error === 0) return;
    errors.push(error);
  }
  throw new Error(`Produce v2 of a v0 MessageSet refused by every broker: ${errors.join(', ')}`);
}

describe('Kafka records without a timestamp (message format v0)', () => {
  it('are restored with timestamp -1, not the time of the restore', async () => {
    const dir = await newDir();
    const topic = uniqueName('v0-ts');
    await kafkaCreateTopic(topic, 1);
    const messages = [0, 1, 2].map((i) => ({ key: i === 1 ? null : Buffer.from(`k${i}`), value: Buffer.from(`v0 message ${i}`) }));
    await produceV2(topic, messageSetV0(messages));
    const source = await readAll(topic);
    expect(source.map((s) => s.value)).toEqual(messages.map((m) => m.value.toString('hex')));
    // kafkajs has no timestamp to give for a v0 message
    expect(source.map((s) => s.timestamp ?? null)).toEqual([null, null, null]);

    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json'], { env: { XDG_STATE_HOME: dir } });
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout)).toMatchObject({ records: 3 });
    // the broker served v0 messages: mqbak's reader says so and hands them to kafkajs' consumer
    expect(b.stderr).toMatch(/message format v0 \(before Kafka 0\.11\)/);

    const target = `${topic}-r`;
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } });
    expect(r.code, r.stderr).toBe(0);
    const restored = await readAll(target);
    expect(restored.map((s) => [s.key, s.value])).toEqual(source.map((s) => [s.key, s.value]));
    expect(restored.map((s) => s.timestamp)).toEqual(['-1', '-1', '-1']);

    // the same through kafkajs' producer (MQBAK_KAFKA_PRODUCER=kafkajs, also the fallback)
    const viaKafkajs = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}-k`], { env: { XDG_STATE_HOME: dir, MQBAK_KAFKA_PRODUCER: 'kafkajs' } });
    expect(viaKafkajs.code, viaKafkajs.stderr).toBe(0);
    expect((await readAll(`${target}-k`)).map((s) => s.timestamp)).toEqual(['-1', '-1', '-1']);
  });
});
