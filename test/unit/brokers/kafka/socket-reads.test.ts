import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { once } from 'node:events';
import { borrowReads, READ_BUFFER_SIZE, socketFactory, type ReadPlace } from '../../../../src/brokers/kafka/socket-reads.js';
import { pseudoRandomBytes } from '../../../helpers/random.js';

const open: Array<{ close(): unknown }> = [];
afterEach(() => {
  for (const x of open.splice(0)) x.close();
});

/** A local TCP server that sends `bytes` to each client in pieces of `piece` bytes, then ends. */
async function sender(bytes: Buffer, piece: number): Promise<number> {
  const server = net.createServer((s) => {
    void (async () => {
      for (let o = 0; o < bytes.length; o += piece) {
        if (!s.write(bytes.subarray(o, o + piece))) await once(s, 'drain');
        // let the client read between pieces, so that reads are cut at different places
        await new Promise((r) => setImmediate(r));
      }
      s.end();
    })();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  open.push(server);
  return (server.address() as net.AddressInfo).port;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s: net.Socket = socketFactory()({ host: '127.0.0.1', port, ssl: null, onConnect: () => resolve(s) });
    open.push({ close: () => s.destroy() });
  });
}

describe('socket reads: one reused read buffer per plain TCP socket', () => {
  it('emits every read as data of its own, which later reads do not overwrite', async () => {
    const bytes = pseudoRandomBytes(3 * READ_BUFFER_SIZE + 12_345, 1);
    const port = await sender(Buffer.from(bytes), 50_000);
    const s = await connect(port);
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    await once(s, 'end');
    expect(chunks.length).toBeGreaterThan(1);
    // each chunk kept its bytes although the socket read on into the same buffer
    expect(Buffer.concat(chunks).equals(Buffer.from(bytes))).toBe(true);
    expect(new Set(chunks.map((c) => c.buffer)).size).toBe(chunks.length);
  });

  it('hands reads to a borrower as views of its read buffer; a read it declines is emitted', async () => {
    const bytes = Buffer.from(pseudoRandomBytes(2 * READ_BUFFER_SIZE, 2));
    const port = await sender(bytes, 40_000);
    const s = await connect(port);
    const borrowed: Buffer[] = [];
    const buffers = new Set<ArrayBufferLike>();
    const emitted: Buffer[] = [];
    s.on('data', (d: Buffer) => emitted.push(d));
    let taken = 0;
    expect(
      borrowReads(s, (view) => {
        buffers.add(view.buffer);
        // the first 100,000 bytes are taken (copied here: the view is valid only now), the rest declined
        if (taken >= 100_000) return false;
        taken += view.length;
        borrowed.push(Buffer.from(view));
        return true;
      }),
    ).toBe(true);
    await once(s, 'end');
    expect(buffers.size).toBe(1);
    expect(Buffer.concat([...borrowed, ...emitted]).equals(bytes)).toBe(true);
    expect(borrowed.length).toBeGreaterThan(0);
    expect(emitted.length).toBeGreaterThan(0);
  });

  it("reads straight into the memory a borrower's place gives, and into its own buffer otherwise", async () => {
    const bytes = Buffer.from(pseudoRandomBytes(3 * READ_BUFFER_SIZE, 3));
    const port = await sender(bytes, 30_000);
    const s = await connect(port);
    const emitted: Buffer[] = [];
    s.on('data', (d: Buffer) => emitted.push(d));
    // bytes 1,000 to 500,000 are to go to `kept`, read there by the socket; the others are borrowed
    const kept = Buffer.alloc(499_000);
    let at = 0;
    let got = 0;
    const borrowed: Buffer[] = [];
    const take = (view: Buffer): boolean => {
      // a read into the socket's own buffer: what belongs in `kept` is copied there
      const into = Math.max(0, Math.min(view.length, 1_000 + kept.length - at) - Math.max(0, 1_000 - at));
      const skip = Math.max(0, 1_000 - at);
      if (into > 0) {
        view.copy(kept, got, skip, skip + into);
        got += into;
        borrowed.push(Buffer.from(view.subarray(0, skip)), Buffer.from(view.subarray(skip + into)));
      } else borrowed.push(Buffer.from(view));
      at += view.length;
      return true;
    };
    let landed = 0;
    const place: ReadPlace = {
      next: () => (at >= 1_000 && got < kept.length ? kept.subarray(got) : null),
      landed: (n) => {
        got += n;
        at += n;
        landed += n;
      },
    };
    expect(borrowReads(s, take, place)).toBe(true);
    await once(s, 'end');
    expect(kept.equals(bytes.subarray(1_000, 500_000))).toBe(true);
    expect(Buffer.concat(borrowed).equals(Buffer.concat([bytes.subarray(0, 1_000), bytes.subarray(500_000)]))).toBe(true);
    expect(emitted).toEqual([]);
    // most of the kept bytes came in place, not through the socket's buffer
    expect(landed).toBeGreaterThan(kept.length / 2);
  });

  it('borrows only from sockets it made with a reused buffer', async () => {
    const port = await sender(Buffer.alloc(10), 10);
    const plain = net.connect({ host: '127.0.0.1', port });
    open.push({ close: () => plain.destroy() });
    expect(borrowReads(plain, () => true)).toBe(false);
    expect(borrowReads({}, () => true)).toBe(false);
    expect(borrowReads(null, () => true)).toBe(false);
  });
});
