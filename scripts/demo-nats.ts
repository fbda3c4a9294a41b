/**
 * The demo's NATS JetStream part: a stream with headers (repeated names, kept in order) and a
 * durable consumer that has acknowledged part of it, backed up, restored under a new stream name
 * on new subjects with the consumer (--definitions), and compared.
 */
import { rawHeaderBlock } from '../src/brokers/nats/raw-message.js';
import { connectNats, type NatsConnection } from '../src/brokers/nats/connection.js';

const MESSAGES = 300;
const ACKED = 120;

interface Seen {
  subject: string;
  block: string;
  data: string;
}

async function read(conn: NatsConnection, stream: string): Promise<Seen[]> {
  const out: Seen[] = [];
  const iter = await (await conn.js.consumers.get(stream)).consume();
  for await (const m of iter) {
    const b = rawHeaderBlock(m);
    out.push({ subject: m.subject, block: b ? Buffer.from(b).toString('latin1') : '', data: Buffer.from(m.data).toString('hex') });
    if (m.info.pending === 0) break;
  }
  await iter.close();
  return out;
}

/** Runs the NATS steps with `mqbak` (which prints each command); true when everything came back. */
export async function natsDemo(url: string, store: string, stamp: string, mqbak: (...args: string[]) => string): Promise<boolean> {
  const { headers } = await import('@nats-io/transport-node');
  const conn = await connectNats(url);
  const stream = `DEMO_ORDERS_${stamp}`;
  const copy = `${stream}_RESTORED`;
  try {
    console.log(`\n== putting ${MESSAGES} messages in JetStream stream ${stream} (subjects orders.<region>, repeated headers); consumer billing acknowledges ${ACKED}`);
    await conn.jsm.streams.add({ name: stream, subjects: [`demo.${stamp}.orders.*`] });
    for (let i = 0; i < MESSAGES; i++) {
      const h = headers();
      h.append('Trace', `t-${i}`);
      h.append('Tag', 'new');
      h.append('Tag', i % 2 ? 'priority' : 'bulk');
      await conn.js.publish(`demo.${stamp}.orders.${['eu', 'us', 'ap'][i % 3]}`, i % 7 === 0 ? new Uint8Array([0, 255, i & 255]) : new TextEncoder().encode(`{"order":${i}}`), { headers: h });
    }
    await conn.jsm.consumers.add(stream, { durable_name: 'billing', ack_policy: 'explicit' as never });
    const fetched = await (await conn.js.consumers.get(stream, 'billing')).fetch({ max_messages: ACKED });
    for await (const m of fetched) await m.ackAck();
    const before = await read(conn, stream);

    const id = (JSON.parse(mqbak('backup', url, store, '--streams', stream, '--json')) as { id: string }).id;
    mqbak('restore', store, url, '--backup', id, '--map', `${stream}=${copy}`, '--subject-map', `demo.${stamp}.>=restored.${stamp}.>`, '--definitions');

    const after = await read(conn, copy);
    const same =
      after.length === before.length &&
      after.every((m, i) => m.data === before[i]!.data && m.block === before[i]!.block && m.subject === before[i]!.subject.replace(`demo.${stamp}.`, `restored.${stamp}.`));
    const next = await (await conn.js.consumers.get(copy, 'billing')).next({ expires: 5000 });
    const resumes = next !== null && Buffer.from(next.data).toString('hex') === before[ACKED]!.data;
    console.log(`JetStream ${stream} -> ${copy}: ${after.length} messages, subjects (renamed), headers, data and order ${same ? 'IDENTICAL' : 'DIFFERENT'}`);
    console.log(`consumer billing on ${copy} resumes at message ${ACKED + 1}: ${resumes ? 'YES' : 'NO'}`);
    return same && resumes;
  } finally {
    await conn.close();
  }
}
