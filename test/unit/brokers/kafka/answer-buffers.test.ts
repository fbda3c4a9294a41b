import { describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { AnswerBuffers, readFetchAnswersInto } from '../../../../src/brokers/kafka/answer-buffers.js';
import { socketFactory } from '../../../../src/brokers/kafka/socket-reads.js';
import { pseudoRandomBytes, xorshift32 } from '../../../helpers/random.js';

const FETCH = 1;
const METADATA = 3;

/** A frame as a broker sends it: size, correlation id, payload. */
function frame(correlationId: number, payload: Uint8Array): Buffer {
  const b = Buffer.alloc(8 + payload.length);
  b.writeInt32BE(4 + payload.length, 0);
  b.writeInt32BE(correlationId, 4);
  b.set(payload, 8);
  return b;
}

/**
 * The part of a kafkajs 2.2 Connection the receiver uses, its processData reading frames the
 * way kafkajs does (chunks joined once a frame is whole), recording what it was given.
 */
function connection(inflight: Array<[number, number]>) {
  const fulfilled: Array<{ correlationId: number; payload: Buffer; size: number; by: 'kafkajs' | 'receiver' }> = [];
  const givenToKafkajs: Buffer[] = [];
  const c = {
    socket: {} as unknown,
    authHandlers: null as unknown,
    bytesBuffered: 0,
    chunks: [] as Buffer[],
    requestQueue: {
      inflight: new Map(inflight.map(([id, apiKey]) => [id, { entry: { apiKey } }])),
      fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }) {
        fulfilled.push({ ...r, payload: Buffer.from(r.payload), by: 'receiver' });
      },
    },
    /** bytes the frame being read needs before kafkajs looks at its chunks again */
    needed: 4,
    processData(data: Buffer) {
      givenToKafkajs.push(Buffer.from(data));
      // as kafkajs: the chunks are kept as given, and joined only once the frame is whole
      this.chunks.push(data);
      this.bytesBuffered += data.length;
      while (this.needed <= this.bytesBuffered) {
        const all = this.chunks.length > 1 ? Buffer.concat(this.chunks) : this.chunks[0]!;
        const size = all.readInt32BE(0);
        if (all.length < 4 + size) {
          this.chunks = [all];
          this.needed = 4 + size;
          return;
        }
        fulfilled.push({ correlationId: all.readInt32BE(4), payload: Buffer.from(all.subarray(8, 4 + size)), size, by: 'kafkajs' });
        const rest = all.subarray(4 + size);
        this.chunks = [rest];
        this.bytesBuffered = rest.length;
        this.needed = 4;
      }
    },
  };
  return { c, fulfilled, givenToKafkajs };
}

/** Every answer fulfilled once, in order, by the receiver (`byReceiver`) or kafkajs, with its exact payload and size. */
function expectFulfilled(fulfilled: ReturnType<typeof connection>['fulfilled'], payloads: Array<[number, number, Uint8Array]>, byReceiver: number[]): void {
  expect(fulfilled.map((f) => [f.correlationId, f.by])).toEqual(payloads.map(([id]) => [id, byReceiver.includes(id) ? 'receiver' : 'kafkajs']));
  for (const f of fulfilled) {
    const p = payloads.find(([id]) => id === f.correlationId)![2];
    expect(f.payload.equals(Buffer.from(p))).toBe(true);
    expect(f.size).toBe(4 + p.length);
  }
}

/** The stream cut into pieces of random sizes (1 byte up to about 100 KiB). */
function pieces(stream: Buffer, seed: number): Buffer[] {
  const next = xorshift32(seed);
  const out: Buffer[] = [];
  for (let o = 0; o < stream.length; ) {
    const n = 1 + (next() % (next() % 4 === 0 ? 16 : 100_000));
    out.push(stream.subarray(o, o + n));
    o += n;
  }
  return out;
}

describe('answer buffers: Fetch answers read into reused buffers', () => {
  it('reads large Fetch answers into its buffers and passes every other frame to kafkajs whole, whatever the socket reads', () => {
    const payloads: Array<[number, number, Uint8Array]> = [
      [1, METADATA, pseudoRandomBytes(300, 1)],
      [2, FETCH, pseudoRandomBytes(200_000, 2)],
      [3, FETCH, pseudoRandomBytes(1_000, 3)], // small: kafkajs reads it
      [4, FETCH, pseudoRandomBytes(3_000_000, 4)],
      [5, METADATA, pseudoRandomBytes(70_000, 5)], // large but not a Fetch
      [6, FETCH, new Uint8Array(0)],
      [7, FETCH, pseudoRandomBytes(65_536, 7)],
    ];
    for (const seed of [1, 2, 3]) {
      const { c, fulfilled, givenToKafkajs } = connection(payloads.map(([id, api]) => [id, api]));
      const buffers = new AnswerBuffers();
      readFetchAnswersInto([c, null, {}], buffers, FETCH);
      const stream = Buffer.concat(payloads.map(([id, , p]) => frame(id, p)));
      for (const piece of pieces(stream, seed)) c.processData(piece);
      expectFulfilled(fulfilled, payloads, [2, 4, 7]);
      // kafkajs got exactly the bytes of its frames, in order
      const own = Buffer.concat(payloads.filter(([id]) => [1, 3, 5, 6].includes(id)).map(([id, , p]) => frame(id, p)));
      expect(Buffer.concat(givenToKafkajs).equals(own)).toBe(true);
    }
  });

  it('reads from a socket that reuses its read buffer: kafkajs is given copies, which later reads leave intact', async () => {
    const payloads: Array<[number, number, Uint8Array]> = [
      [1, METADATA, pseudoRandomBytes(150_000, 11)],
      [2, FETCH, pseudoRandomBytes(900_000, 12)],
      [3, METADATA, pseudoRandomBytes(40, 13)],
      [4, FETCH, pseudoRandomBytes(70_000, 14)],
      [5, FETCH, pseudoRandomBytes(500, 15)],
      [6, METADATA, pseudoRandomBytes(300_000, 16)],
    ];
    const stream = Buffer.concat(payloads.map(([id, , p]) => frame(id, p)));
    const server = net.createServer((s) => {
      void (async () => {
        for (const piece of pieces(stream, 7)) {
          if (!s.write(piece)) await once(s, 'drain');
          await new Promise((r) => setImmediate(r));
        }
        s.end();
      })();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { c, fulfilled } = connection(payloads.map(([id, api]) => [id, api]));
      const socket = await new Promise<net.Socket>((resolve) => {
        const s: net.Socket = socketFactory()({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ssl: null, onConnect: () => resolve(s) });
      });
      // as kafkajs listens
      socket.on('data', (d: Buffer) => c.processData(d));
      c.socket = socket;
      readFetchAnswersInto([c], new AnswerBuffers(), FETCH);
      await once(socket, 'end');
      socket.destroy();
      expectFulfilled(fulfilled, payloads, [2, 4]);
    } finally {
      server.close();
    }
  });

  it('leaves a connection alone while kafkajs holds part of a frame, and sets it up once it does not', () => {
    const { c, fulfilled } = connection([
      [1, FETCH],
      [2, FETCH],
    ]);
    const buffers = new AnswerBuffers();
    const first = frame(1, pseudoRandomBytes(100_000, 1));
    c.processData(first.subarray(0, 10));
    readFetchAnswersInto([c], buffers, FETCH);
    c.processData(first.subarray(10));
    readFetchAnswersInto([c], buffers, FETCH);
    c.processData(frame(2, pseudoRandomBytes(100_000, 2)));
    expect(fulfilled.map((f) => [f.correlationId, f.by])).toEqual([
      [1, 'kafkajs'],
      [2, 'receiver'],
    ]);
  });

  it('hands a buffer out again only once it was released, and keeps only its own', () => {
    const buffers = new AnswerBuffers();
    const a = buffers.take(100_000);
    const b = buffers.take(100_000);
    expect(a.buffer).not.toBe(b.buffer);
    buffers.release(a.subarray(0, 10));
    buffers.release(Buffer.alloc(2_000_000)); // not one of its own: ignored
    expect(buffers.take(50_000).buffer).toBe(a.buffer);
    expect(buffers.take(50_000).buffer).not.toBe(a.buffer);
    // a larger answer than any free buffer gets a new one
    buffers.release(b);
    expect(buffers.take(5_000_000).length).toBeGreaterThanOrEqual(5_000_000);
  });
});
