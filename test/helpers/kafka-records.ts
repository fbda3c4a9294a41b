/**
 * Reading a whole Kafka topic back as comparable records (hex bytes, headers in order), to check
 * that a restore wrote exactly what the backup read.
 */
import { Kafka, logLevel, type IHeaders } from 'kafkajs';
import { uniqueName } from './brokers.js';

export interface Seen {
  partition: number;
  offset: string;
  key: string | null;
  value: string | null;
  timestamp: string;
  headers: string;
}

function hdrs(h: IHeaders | undefined): string {
  return JSON.stringify(Object.entries(h ?? {}).map(([k, v]) => [k, (Array.isArray(v) ? v : [v]).map((x) => (x === undefined ? null : Buffer.from(x as Buffer).toString('hex')))]));
}

/** Every record of the topic, per partition in offset order (a throwaway group reading to the end). */
export async function readTopic(brokers: string[], topic: string): Promise<Seen[]> {
  const k = new Kafka({ brokers, clientId: uniqueName('read'), logLevel: logLevel.NOTHING });
  const admin = k.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(ends.map((e) => [e.partition, BigInt(e.high)]));
  const out: Seen[] = [];
  const c = k.consumer({ groupId: uniqueName('e2e-read'), maxWaitTimeInMs: 100 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    const done = () => [...want.values()].every((v) => v <= 0n);
    if (done()) resolve();
    void c.run({
      eachMessage: async ({ partition, message: m }) => {
        out.push({ partition, offset: m.offset, key: m.key ? m.key.toString('hex') : null, value: m.value === null ? null : m.value.toString('hex'), timestamp: m.timestamp, headers: hdrs(m.headers) });
        if (BigInt(m.offset) + 1n >= want.get(partition)!) want.set(partition, 0n);
        if (done()) resolve();
      },
    });
  });
  await c.disconnect();
  return out.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)));
}

/** The records without their offsets: what a restore into a non-empty target must keep. */
export const strip = (s: Seen[]) => s.map(({ offset: _o, ...rest }) => rest);
