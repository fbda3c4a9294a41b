/**
 * Fetch answers read into reused buffers. kafkajs 2.2 collects an answer's socket reads and joins
 * them into a new buffer of the answer's size (Connection.processData): for a backup, the whole
 * topic passes through such buffers once, megabytes each. They live while their records are
 * encoded (longer than V8's young generation keeps anything), so each one counted as memory
 * allocated outside the heap until the next full collection, and V8 ran a mark-compact every few
 * answers (docs/PERFORMANCE.md, "Before and after the broker adapter"). Here the socket reads of
 * a large Fetch answer are copied straight into a buffer of a small free list instead, handed
 * back by the reader once the answer's records are encoded; every other answer (and every answer
 * on a connection this code does not recognise) goes through kafkajs as before. On a socket that
 * reads into a reused buffer (socket-reads.ts) the reads come here straight from that buffer, and
 * what goes to kafkajs is copied first; once an answer's first bytes are in, the socket reads the
 * rest of it straight into the answer's buffer (a ReadPlace), so that those bytes are not copied
 * at all.
 */

import { borrowReads, type ReadPlace } from './socket-reads.js';

/** What the receiver uses of a kafkajs 2.2 Connection (src/network/connection.js). */
interface Connection {
  socket: unknown;
  /** bytes of a frame kafkajs has read in part (0 between frames) */
  bytesBuffered: unknown;
  authHandlers: unknown;
  processData(data: Buffer): void;
  requestQueue: {
    inflight: Map<number, { entry?: { apiKey?: unknown } }>;
    fulfillRequest(r: { correlationId: number; payload: Buffer; size: number }): void;
  };
}

/** Answers smaller than this go through kafkajs (its join costs little there). */
const MIN_POOLED = 64 * 1024;
/** Buffers are allocated in whole MiB, so that answers of slightly different sizes share them. */
const ROUND = 1024 * 1024;
/** Free buffers kept: two answers per broker are held at once (one decoded, one arriving). */
const MAX_FREE = 4;

/** The free list of answer buffers of one reader. */
export class AnswerBuffers {
  private readonly free: Buffer[] = [];
  private readonly mine = new WeakSet<ArrayBufferLike>();

  /** A buffer of at least `size` bytes. */
  take(size: number): Buffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      if (b.length >= size && (best < 0 || b.length < this.free[best]!.length)) best = i;
    }
    if (best >= 0) return this.free.splice(best, 1)[0]!;
    const b = Buffer.allocUnsafeSlow(Math.ceil(size / ROUND) * ROUND);
    this.mine.add(b.buffer);
    return b;
  }

  /**
   * Hands back the buffer `bytes` (an answer's payload) was read into, once nothing reads it any
   * more; bytes of any other buffer are left alone.
   */
  release(bytes: Uint8Array): void {
    if (!this.mine.has(bytes.buffer)) return;
    const whole = Buffer.from(bytes.buffer, 0, bytes.buffer.byteLength);
    if (this.free.some((b) => b.buffer === whole.buffer)) return;
    if (this.free.length >= MAX_FREE) {
      // keep the larger ones: a small one would be passed over by a large answer anyway
      let smallest = 0;
      for (let i = 1; i < this.free.length; i++) if (this.free[i]!.length < this.free[smallest]!.length) smallest = i;
      if (this.free[smallest]!.length >= whole.length) return;
      this.free.splice(smallest, 1);
    }
    this.free.push(whole);
  }
}

function isConnection(c: unknown): c is Connection {
  const x = c as Partial<Connection> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.processData === 'function' &&
    x.requestQueue?.inflight instanceof Map &&
    typeof x.requestQueue.fulfillRequest === 'function'
  );
}

const installed = new WeakSet<object>();

/** A Fetch answer being read into one of the buffers: `got` of its `size` bytes are in. */
interface Answer {
  buffer: Buffer;
  size: number;
  got: number;
  correlationId: number;
}

/**
 * Makes each connection of `connections` (a kafkajs broker's connection pool) read Fetch answers
 * (`fetchApiKey`) of MIN_POOLED bytes or more into `buffers`. Connections already set up, those
 * in the middle of reading a frame (tried again on the next call), and anything not shaped like a
 * kafkajs 2.2 Connection are left as they are.
 */
export function readFetchAnswersInto(connections: readonly unknown[], buffers: AnswerBuffers, fetchApiKey: number): void {
  for (const c of connections) {
    if (!isConnection(c) || installed.has(c) || c.bytesBuffered !== 0) continue;
    installed.add(c);
    install(c, buffers, fetchApiKey);
  }
}

function install(c: Connection, buffers: AnswerBuffers, fetchApiKey: number): void {
  const kafkajs = c.processData;
  // the frame being read: its size and correlation id first (8 bytes), then its payload
  const head = Buffer.alloc(8);
  let headLength = 0;
  let socket: unknown = null;
  /** a frame kafkajs reads: the bytes of it still to pass on */
  let passing = 0;
  /** a Fetch answer read here */
  let target: Answer | null = null;
  /** a frame too short to hold a correlation id: kafkajs reads everything from there on */
  let broken = false;

  /**
   * `borrowed`: the bytes are the socket's read buffer (socket-reads.ts), valid only during this
   * call: what kafkajs is given is copied (it keeps the pieces of a frame until the frame is whole).
   */
  const read = (self: Connection, data: Buffer, borrowed: boolean): void => {
    // a new socket (a reconnect): whatever was half read belonged to the old one
    if (self.socket !== socket) follow(self);
    const own = (b: Buffer) => (borrowed ? Buffer.from(b) : b);
    // authentication frames are kafkajs' own business (only before any request of the reader)
    if (self.authHandlers || broken) {
      kafkajs.call(self, own(data));
      return;
    }
    let o = 0;
    while (o < data.length) {
      if (passing > 0) {
        const n = Math.min(passing, data.length - o);
        passing -= n;
        // kafkajs sees exactly this frame's bytes, so its own state stays at frame boundaries
        kafkajs.call(self, own(o === 0 && n === data.length ? data : data.subarray(o, o + n)));
        o += n;
        continue;
      }
      if (target) {
        const n = Math.min(target.size - target.got, data.length - o);
        data.copy(target.buffer, target.got, o, o + n);
        target.got += n;
        o += n;
        if (target.got === target.size) {
          const t = target;
          target = null;
          // what kafkajs hands on: the payload after the correlation id; size as kafkajs counts it
          self.requestQueue.fulfillRequest({ correlationId: t.correlationId, payload: t.buffer.subarray(0, t.size), size: t.size + 4 });
        }
        continue;
      }
      const n = Math.min(8 - headLength, data.length - o);
      data.copy(head, headLength, o, o + n);
      headLength += n;
      o += n;
      if (headLength < 8) break;
      headLength = 0;
      const size = head.readInt32BE(0);
      const correlationId = head.readInt32BE(4);
      if (size < 4) {
        broken = true;
        kafkajs.call(self, Buffer.concat([head, data.subarray(o)]));
        return;
      }
      const request = self.requestQueue.inflight.get(correlationId);
      if (request?.entry?.apiKey === fetchApiKey && size - 4 >= MIN_POOLED) {
        target = { buffer: buffers.take(size - 4), size: size - 4, got: 0, correlationId };
      } else {
        // any other frame: kafkajs reads it from its first byte on
        passing = size - 4;
        kafkajs.call(self, Buffer.from(head));
      }
    }
  };

  /** Starts on the connection's (new) socket. */
  const follow = (self: Connection): void => {
    socket = self.socket;
    headLength = 0;
    passing = 0;
    target = null;
    broken = false;
    const mine = socket;
    /** the answer whose rest the socket was last told to read into its buffer */
    let placed: Answer | null = null;
    const place: ReadPlace = {
      next: () => {
        placed = self.socket === mine && !self.authHandlers && !broken ? target : null;
        return placed === null ? null : placed.buffer.subarray(placed.got, placed.size);
      },
      landed: (n) => {
        // the bytes are in the answer's buffer already; the answer may have been dropped since
        // (a new socket): then they are not counted
        if (placed === null || placed !== target || self.socket !== mine) return;
        placed.got += n;
        if (placed.got === placed.size) {
          target = null;
          self.requestQueue.fulfillRequest({ correlationId: placed.correlationId, payload: placed.buffer.subarray(0, placed.size), size: placed.size + 4 });
        }
      },
    };
    // its reads come here straight from its read buffer, while it is this connection's
    borrowReads(
      mine,
      (bytes) => {
        if (self.socket !== mine) return false;
        read(self, bytes, true);
        return true;
      },
      place,
    );
  };

  c.processData = function processData(this: Connection, data: Buffer): void {
    read(this, data, false);
  };
  follow(c);
}
