/**
 * The sockets kafkajs connects with. A plain TCP socket reads into one buffer of its own, reused
 * for every read (Node's `onread` option), instead of a new buffer per read: a backup reads the
 * whole topic through these reads, and each new buffer counted as memory allocated outside V8's
 * heap until a collection freed it, which made V8 run full collections several times a second
 * (docs/PERFORMANCE.md, "Before and after the broker adapter").
 *
 * A read is handed to the socket's borrower, if one is set (borrowReads: answer-buffers.ts, which
 * copies what it keeps before it returns), else emitted as a `data` event of a copy, as Node
 * would have emitted it. A borrower may also say where the next read should go (a ReadPlace: the
 * rest of a Fetch answer it is reading), so that those bytes are read where they are kept rather
 * than copied there. TLS sockets are made as kafkajs makes them.
 */
import net from 'node:net';
import tls from 'node:tls';

/** Bytes one read may bring (Node's own reads are 64 KiB). */
export const READ_BUFFER_SIZE = 256 * 1024;
/** The TCP keep-alive kafkajs sets on its sockets. */
const KEEP_ALIVE_MS = 60_000;

/**
 * Takes a read's bytes, which are valid only until it returns; false when it does not take them
 * (then they are emitted as `data`, copied).
 */
export type ReadBorrower = (bytes: Buffer) => boolean;

/**
 * Where a borrower wants the socket's next read, instead of the socket's own buffer: `next()`
 * gives the memory (null or empty: the socket's buffer), `landed(n)` is told that the read that
 * followed put n bytes at its start. Asked after every read.
 */
export interface ReadPlace {
  next(): Uint8Array | null;
  landed(n: number): void;
}

const borrowers = new WeakMap<object, ReadBorrower>();
const places = new WeakMap<object, ReadPlace>();
/** the sockets made with a reused read buffer */
const reusing = new WeakSet<object>();

/**
 * Hands `socket`'s reads to `take` from now on, as views of the socket's read buffer, instead of
 * emitting `data`. False (and nothing changes) when the socket is not one made here with a
 * reused buffer.
 */
export function borrowReads(socket: unknown, take: ReadBorrower, place?: ReadPlace): boolean {
  if (typeof socket !== 'object' || socket === null || !reusing.has(socket)) return false;
  borrowers.set(socket, take);
  if (place) places.set(socket, place);
  else places.delete(socket);
  return true;
}

interface SocketArgs {
  host: string;
  port: number;
  ssl?: tls.ConnectionOptions | boolean | null;
  onConnect: () => void;
}

/** kafkajs' socketFactory option. */
export function socketFactory(): (args: SocketArgs) => net.Socket {
  return ({ host, port, ssl, onConnect }) => {
    let socket: net.Socket;
    if (ssl) {
      // a host name (not an address) is also the name the certificate must carry (SNI)
      const sni = net.isIP(host) === 0 ? { servername: host } : {};
      socket = tls.connect({ host, port, ...sni, ...(ssl === true ? {} : ssl) }, onConnect);
    } else {
      const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_SIZE);
      /** the place the read in progress goes to, when not `buffer` */
      let placed: ReadPlace | null = null;
      // null while net.connect runs: it asks for the first read's buffer before it returns
      let made: net.Socket | null = null;
      const s = net.connect(
        {
          host,
          port,
          onread: {
            // called before the first read and after each one (Node's onread.buffer as a function)
            buffer: (): Uint8Array => {
              const place = made === null ? undefined : places.get(made);
              const into = place?.next() ?? null;
              placed = into !== null && into.length > 0 ? place! : null;
              return placed === null ? buffer : into!;
            },
            callback: (n: number, b: Uint8Array): boolean => {
              if (b !== buffer) {
                placed?.landed(n);
                return true;
              }
              const view = Buffer.from(b.buffer, b.byteOffset, n);
              const take = borrowers.get(s);
              if (!take?.(view)) s.emit('data', Buffer.from(view));
              return true;
            },
          },
        },
        onConnect,
      );
      made = s;
      reusing.add(s);
      socket = s;
    }
    socket.setKeepAlive(true, KEEP_ALIVE_MS);
    return socket;
  };
}
