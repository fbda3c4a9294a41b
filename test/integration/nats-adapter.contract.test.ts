/**
 * The broker adapter contract suites (test/contract/broker-contract.ts) run against the NATS
 * JetStream adapter and the real nats-server: a limits stream read by sequence ('log') and a
 * work-queue stream drained ('drain'); the sink restores into a stream prepare() creates from the
 * saved config (on other subjects, so that it does not overlap its source). Messages are
 * published and read back with the NATS client's own API, not mqbak's code.
 */
import { brokerContract, valueOf, type BrokerFixture } from '../contract/broker-contract.js';
import { natsUrl, uniqueName } from '../helpers/brokers.js';
import { natsConnect } from '../helpers/nats.js';
import type { ReadMode, StreamAddress } from '../../src/brokers/adapter.js';
import { adapter } from '../../src/brokers/nats/index.js';
import type { NatsConnection } from '../../src/brokers/nats/connection.js';

async function publish(conn: NatsConnection, subject: string, from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) await conn.js.publish(`${subject}.${i % 3}`, valueOf(i));
}

/** Everything a stream holds, in order, through an ordered consumer of the client. */
async function readBack(conn: NatsConnection, stream: string): Promise<Array<{ key: null; value: Uint8Array }>> {
  const info = await conn.jsm.streams.info(stream);
  const out: Array<{ key: null; value: Uint8Array }> = [];
  if (info.state.messages === 0) return out;
  const c = await conn.js.consumers.get(stream);
  const iter = await c.consume();
  for await (const m of iter) {
    out.push({ key: null, value: new Uint8Array(m.data) });
    if (m.info.pending === 0) break;
  }
  return out;
}

brokerContract('nats', async (): Promise<BrokerFixture> => {
  const conn = await natsConnect();
  const url = natsUrl();
  const created: string[] = [];
  return {
    adapter,
    modes: ['log', 'drain'],
    async source(mode: ReadMode, records: number) {
      const stream = uniqueName(`contract-${mode}`);
      await conn.jsm.streams.add({ name: stream, subjects: [`${stream}.>`], retention: (mode === 'drain' ? 'workqueue' : 'limits') as never });
      created.push(stream);
      await publish(conn, stream, 0, records);
      let next = records;
      return {
        url,
        options: { streams: [stream], ...(mode === 'drain' ? { mode: 'drain' } : {}) },
        streams: 1,
        async append(n: number) {
          await publish(conn, stream, next, n);
          next += n;
        },
      };
    },
    async sink() {
      const name = uniqueName('contract-target');
      created.push(name);
      // the source's subjects stay with the source: the target takes <name>.<subject>
      return { url, options: { subjectMap: [`>=${name}.>`] }, name, readBack: (address: StreamAddress) => readBack(conn, String(address.stream)) };
    },
    sinkHasPositions: true,
    async cleanup() {
      for (const s of created) await conn.jsm.streams.delete(s).catch(() => undefined);
      await conn.close();
    },
  };
});
