/**
 * Connecting to the real nats-server: listing and describing streams of each retention, clear
 * errors for a missing stream and an unreachable server (without the password), and the abort
 * signal before and after connecting.
 */
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../src/common/errors.js';
import { connectNats, describeStream, listStreams } from '../../src/brokers/nats/index.js';
import { freePort, natsUrl } from '../helpers/brokers.js';
import { createStream, natsConnect } from '../helpers/nats.js';

async function failure(p: Promise<unknown>): Promise<MqbakError> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  expect(e).toBeInstanceOf(MqbakError);
  return e as MqbakError;
}

describe('NATS connection', () => {
  it('lists streams and reads their retention and state', async () => {
    const conn = await natsConnect();
    try {
      const made: Record<string, string> = {};
      for (const retention of ['limits', 'interest', 'workqueue']) made[retention] = await createStream(conn, `nats-conn-${retention}`, { retention });
      const names = await listStreams(conn);
      for (const s of Object.values(made)) expect(names).toContain(s);
      for (const [retention, s] of Object.entries(made)) {
        expect(await describeStream(conn, s)).toMatchObject({ name: s, retention, subjects: [`${s}.>`], messages: 0, lastSeq: 0 });
        await conn.jsm.streams.delete(s);
      }
      expect((await failure(describeStream(conn, 'no-such-stream-here'))).code).toBe('not-found');
    } finally {
      await conn.close();
    }
  });

  it('says unreachable, without the password, when nothing listens', async () => {
    const port = await freePort();
    const e = await failure(connectNats(`nats://me:hunter2@127.0.0.1:${port}`, { timeoutMs: 2000 }));
    expect(e.code).toBe('unreachable');
    expect(e.message).toContain(`nats://me:***@127.0.0.1:${port}`);
    expect(`${e.message} ${e.hint}`).not.toContain('hunter2');
  });

  it('honours the abort signal before connecting and closes the connection when it fires later', async () => {
    const e = await failure(connectNats(natsUrl(), { signal: AbortSignal.abort() }));
    expect(e.code).toBe('interrupted');
    const ac = new AbortController();
    const conn = await connectNats(natsUrl(), { signal: ac.signal });
    expect(conn.nc.isClosed()).toBe(false);
    ac.abort();
    await conn.nc.closed();
    expect(conn.nc.isClosed()).toBe(true);
    await conn.close(); // twice is fine
  });
});
