/** What the RabbitMQ readers (mirror, stream, drain) share while a backup reads a queue. */
import type { Progress } from '../../common/progress.js';
import type { DecodeNotes } from './amqp-codec.js';
import type { RabbitConnection } from './connection.js';
import type { QueueInfo } from './management.js';
import type { BackupSettings } from './options.js';

export interface ReadContext {
  conn: RabbitConnection;
  settings: BackupSettings;
  progress: Progress;
  signal: AbortSignal;
  /** Strings that were not valid UTF-8 since the last report. */
  notes: DecodeNotes;
  /**
   * Mirrors' channel closes still under way (the broker putting their messages back): the source
   * waits for them before it closes the connection, so a backup ends only once they are back.
   */
  returns: Promise<void>[];
}

/**
 * What a backup did to one queue, summed over a drain's checkpoints: the facts `backup --json`
 * prints per stream.
 */
export interface QueueReport {
  stream: string;
  queue: string;
  type: QueueInfo['type'];
  /** Ready messages (or, for streams, the offsets to read) seen at the cut. */
  depthAtStart: number;
  records: number;
  /** Records that came with RabbitMQ's redelivered flag set. */
  redelivered: number;
  /** Mirror of classic/quorum queues: the messages were returned and RabbitMQ now marks them redelivered. */
  returnedToQueue: boolean;
  /** Drain: messages acknowledged (removed from the queue). */
  acked: number;
  mayDuplicatePrevious: boolean;
}
