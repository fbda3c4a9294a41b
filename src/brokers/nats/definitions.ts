/**
 * Stream and durable consumer definitions: what a backup saves beside the messages, and how a
 * restore recreates them, under a new stream name and with renamed subjects when asked.
 *
 * A consumer's position cannot be set on the server: the restored consumer starts at the target
 * sequence of the first message its source had not acknowledged (deliver_policy
 * by_start_sequence), which the caller finds through the offset map. Messages delivered but not
 * acknowledged are delivered again, as they would have been on the source.
 */
import type { ConsumerConfig, ConsumerInfo, StreamConfig } from '@nats-io/jetstream';
import { MqbakError } from '../../common/errors.js';
import type { NatsConnection } from './connection.js';
import { describeStream, streamError, summarize, type StreamSummary } from './streams.js';

/** The saved form of a stream: its config as the server reported it. */
export type SavedStreamConfig = StreamConfig;

export interface SavedConsumer {
  stream: string;
  name: string;
  config: ConsumerConfig;
  /** Last delivered: consumer and stream sequence. */
  delivered: { consumerSeq: number; streamSeq: number };
  /** Everything up to this stream sequence is acknowledged (0: nothing). */
  ackFloor: { consumerSeq: number; streamSeq: number };
  numAckPending: number;
  numPending: number;
  numRedelivered: number;
}

export interface RestoreStreamOptions {
  /** Name on the target; default the saved name. */
  name?: string;
  /** Renames the stream's subjects (subjects.ts subjectRenamer). */
  renameSubject?: (subject: string) => string;
}

/** Durable consumers of a stream (ephemeral ones, such as running ordered consumers, are not). */
export async function saveConsumers(conn: NatsConnection, stream: string): Promise<SavedConsumer[]> {
  const out: SavedConsumer[] = [];
  try {
    for await (const ci of conn.jsm.consumers.list(stream)) {
      if (!ci.config.durable_name) continue;
      out.push(savedConsumer(ci));
    }
  } catch (e) {
    throw streamError(e, conn, stream);
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export function savedConsumer(ci: ConsumerInfo): SavedConsumer {
  return {
    stream: ci.stream_name,
    name: ci.name,
    config: ci.config,
    delivered: { consumerSeq: ci.delivered.consumer_seq, streamSeq: ci.delivered.stream_seq },
    ackFloor: { consumerSeq: ci.ack_floor.consumer_seq, streamSeq: ci.ack_floor.stream_seq },
    numAckPending: ci.num_ack_pending,
    numPending: ci.num_pending,
    numRedelivered: ci.num_redelivered,
  };
}

/**
 * The stream sequence after which a consumer had acknowledged nothing: its ack floor, or, for a
 * consumer without acknowledgements (ack_policy none), the last message delivered to it.
 */
export function consumedThrough(c: SavedConsumer): number {
  return c.config.ack_policy === 'none' ? c.delivered.streamSeq : c.ackFloor.streamSeq;
}

/** The config a restore creates from a saved one. */
export function restoredStreamConfig(saved: SavedStreamConfig, options: RestoreStreamOptions = {}): StreamConfig {
  const rename = options.renameSubject ?? ((s: string) => s);
  const config: StreamConfig = { ...saved, name: options.name ?? saved.name };
  if (saved.subjects) config.subjects = saved.subjects.map(rename);
  // a restored stream holds copies: it neither mirrors nor sources its origin again
  delete (config as Partial<StreamConfig>).mirror;
  delete (config as Partial<StreamConfig>).sources;
  // sealed would refuse the restore's own messages
  if (config.sealed) config.sealed = false;
  return config;
}

/**
 * Creates the stream unless a stream of that name exists with the same subjects (a rerun of the
 * same restore), which is used as it is. Another stream of that name is 'exists'.
 */
export async function restoreStream(conn: NatsConnection, saved: SavedStreamConfig, options: RestoreStreamOptions = {}): Promise<{ created: boolean; stream: StreamSummary }> {
  const config = restoredStreamConfig(saved, options);
  try {
    const existing = await describeStream(conn, config.name);
    const same = JSON.stringify([...(existing.subjects ?? [])].sort()) === JSON.stringify([...(config.subjects ?? [])].sort());
    if (!same) {
      throw new MqbakError('exists', `stream ${config.name} already exists on ${conn.target.redacted} with other subjects (${existing.subjects.join(', ')})`, {
        hint: 'restore under another name (--map old=new) or delete that stream first',
      });
    }
    return { created: false, stream: existing };
  } catch (e) {
    if (!(e instanceof MqbakError) || e.code !== 'not-found') throw e;
  }
  try {
    const info = await conn.jsm.streams.add(config);
    return { created: true, stream: summarize(info) };
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    throw new MqbakError(/overlap/i.test(msg) ? 'exists' : 'unreachable', `NATS ${conn.target.redacted}: cannot create stream ${config.name}: ${msg}`, {
      hint: /overlap/i.test(msg) ? 'another stream takes these subjects: rename them on restore (--subject-map, e.g. orders.>=copy.orders.>)' : undefined,
      cause: e,
    });
  }
}

export interface RestoreConsumerOptions {
  /** Renames the consumer's subject filters. */
  renameSubject?: (subject: string) => string;
  /**
   * Target stream sequence of the first message the consumer had not acknowledged; the target's
   * last sequence + 1 when everything restored was acknowledged.
   */
  startSeq: number;
}

/** The config a restore creates: the saved one, starting at startSeq, filters renamed. */
export function restoredConsumerConfig(saved: SavedConsumer, options: RestoreConsumerOptions): ConsumerConfig {
  const rename = options.renameSubject ?? ((s: string) => s);
  const config: ConsumerConfig = { ...saved.config, deliver_policy: 'by_start_sequence' as never, opt_start_seq: Math.max(1, options.startSeq) };
  delete (config as Partial<ConsumerConfig>).opt_start_time;
  if (config.filter_subject) config.filter_subject = rename(config.filter_subject);
  if (config.filter_subjects) config.filter_subjects = config.filter_subjects.map(rename);
  return config;
}

/**
 * Creates the durable consumer on the target stream; a consumer of that name already there (a
 * rerun) is left as it is.
 */
export async function restoreConsumer(conn: NatsConnection, stream: string, saved: SavedConsumer, options: RestoreConsumerOptions): Promise<{ created: boolean }> {
  try {
    await conn.jsm.consumers.info(stream, saved.name);
    return { created: false };
  } catch {
    // not there: create it
  }
  try {
    await conn.jsm.consumers.add(stream, restoredConsumerConfig(saved, options));
    return { created: true };
  } catch (e) {
    throw new MqbakError('unreachable', `NATS ${conn.target.redacted}: stream ${stream}: cannot create consumer ${saved.name}: ${(e as Error).message}`, { cause: e });
  }
}
