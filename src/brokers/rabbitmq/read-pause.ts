/**
 * Holding off reading a connection's socket while a consumer holds more deliveries than it wants
 * (a mirror asks RabbitMQ for every message of the queue at once, and the broker can send them
 * faster than the archive takes them). While paused, amqplib parses no further frame and Node
 * stops reading the socket, so TCP's flow control makes the broker wait: a classic or quorum
 * queue stops sending to a channel whose writes are blocked. Nothing is lost or reordered: the
 * frames wait in the socket and are parsed on resume.
 *
 * amqplib 2.3 reads in Connection#acceptLoop: on the socket's 'readable' event it calls recvFrame
 * until that returns false. A paused connection's recvFrame returns false at once; resuming
 * emits 'readable' again so the loop carries on. amqplib's heartbeat check counts a silence of two
 * intervals as a dead broker: while the pause is ours (frames may be waiting unread), the check is
 * told something was received. Left alone (pausing does nothing) if amqplib's internals are not
 * as expected.
 */
import type { ChannelModel } from 'amqplib';
import { READ_HELD } from './frame-reader.js';

interface Reader {
  recvFrame(): unknown;
  recvSinceLastCheck?: boolean;
  heartbeat?: number;
  stream?: { emit(event: string): boolean };
  [READ_HELD]?: boolean;
}

export interface ReadPause {
  /** Whether frames are being held off (false too when pausing is not available). */
  readonly paused: boolean;
  pause(): void;
  resume(): void;
}

const NO_PAUSE: ReadPause = { paused: false, pause() {}, resume() {} };

const PAUSE = Symbol('mqbak.readPause');

/** The read pause of this connection, installed on first use. */
export function readPauseOf(model: ChannelModel): ReadPause {
  const holder = model as unknown as Record<symbol, ReadPause | undefined>;
  holder[PAUSE] ??= install(model);
  return holder[PAUSE];
}

function install(model: ChannelModel): ReadPause {
  const conn = (model as unknown as { connection?: Reader }).connection;
  const stream = conn?.stream;
  if (!conn || typeof conn.recvFrame !== 'function' || typeof stream?.emit !== 'function' || typeof conn.recvSinceLastCheck !== 'boolean') return NO_PAUSE;
  const inner = conn.recvFrame;
  let paused = false;
  let keepAlive: NodeJS.Timeout | undefined;
  conn.recvFrame = function (this: Reader) {
    return paused ? false : inner.call(this);
  };
  return {
    get paused() {
      return paused;
    },
    pause() {
      if (paused) return;
      paused = true;
      // the frame reader stops after the delivery it is handing on (it reads several per call)
      conn[READ_HELD] = true;
      conn.recvSinceLastCheck = true;
      const seconds = typeof conn.heartbeat === 'number' && conn.heartbeat > 0 ? conn.heartbeat : 0;
      if (seconds > 0) {
        keepAlive = setInterval(() => (conn.recvSinceLastCheck = true), (seconds * 1000) / 2);
        keepAlive.unref();
      }
    },
    resume() {
      if (!paused) return;
      paused = false;
      conn[READ_HELD] = false;
      clearInterval(keepAlive);
      keepAlive = undefined;
      // outside the caller's stack: the loop may deliver to the consumer that resumed
      setImmediate(() => stream.emit('readable'));
    },
  };
}
