/**
 * Helpers of the NATS integration tests: a connection to the test server, streams with unique
 * names, and publishing raw header blocks the way any client could.
 */
import { afterAll, beforeAll } from 'vitest';
import { connectNats, type NatsConnection } from '../../src/brokers/nats/index.js';
import { rawHeaders } from '../../src/brokers/nats/raw-message.js';
import { natsUrl, uniqueName } from './brokers.js';

export function natsConnect(): Promise<NatsConnection> {
  return connectNats(natsUrl(), { name: 'mqbak-test' });
}

/**
 * One connection for a test file, opened before its tests; the streams the tests put in `streams`
 * are deleted after them, then the connection is closed.
 */
export function useNatsConnection(set: (conn: NatsConnection) => void, streams: string[]): void {
  let conn: NatsConnection | undefined;
  beforeAll(async () => {
    conn = await natsConnect();
    set(conn);
  });
  afterAll(async () => {
    for (const s of streams) await conn?.jsm.streams.delete(s).catch(() => undefined);
    await conn?.close();
  });
}

/** A new stream named after prefix, on the subjects <name>.>; returns its name. */
export async function createStream(conn: NatsConnection, prefix: string, config: Record<string, unknown> = {}): Promise<string> {
  const name = uniqueName(prefix);
  await conn.jsm.streams.add({ name, subjects: [`${name}.>`], ...config });
  return name;
}

/** Publishes one message with exactly this header block (or none) and returns its sequence. */
export async function publishRaw(conn: NatsConnection, subject: string, data: Uint8Array, block?: Uint8Array): Promise<number> {
  const reply = await conn.nc.request(subject, data, { timeout: 10_000, ...(block ? { headers: rawHeaders(block) } : {}) });
  const ack = JSON.parse(new TextDecoder().decode(reply.data)) as { seq?: number; duplicate?: boolean; error?: { description: string } };
  if (ack.error || ack.duplicate || typeof ack.seq !== 'number') throw new Error(`publish on ${subject}: ${JSON.stringify(ack)}`);
  return ack.seq;
}

/** Publishes n small messages on subject, awaiting each ack in a window; returns the last sequence. */
export async function publishMany(conn: NatsConnection, subject: string, n: number, body: (i: number) => string = (i) => `m${i}`): Promise<number> {
  let last = 0;
  const inFlight: Array<Promise<unknown>> = [];
  for (let i = 0; i < n; i++) {
    inFlight.push(conn.js.publish(subject, new TextEncoder().encode(body(i))).then((a) => (last = Math.max(last, a.seq))));
    if (inFlight.length >= 128) await inFlight.shift();
  }
  await Promise.all(inFlight);
  return last;
}

export const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
export const latin1 = (u: Uint8Array | null): string | null => (u === null ? null : Buffer.from(u).toString('latin1'));
