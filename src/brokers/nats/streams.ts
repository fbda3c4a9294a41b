/**
 * The streams of a JetStream account: their names, configs and state, as the backup needs them.
 */
import type { MsgRequest, StreamConfig, StreamInfo } from '@nats-io/jetstream';
import { MqbakError } from '../../common/errors.js';
import type { NatsConnection } from './connection.js';

export type Retention = 'limits' | 'interest' | 'workqueue';

export interface StreamSummary {
  name: string;
  retention: Retention;
  subjects: string[];
  /** The config as the server reports it (including defaults it filled in). */
  config: StreamConfig;
  /** Messages stored now. */
  messages: number;
  bytes: number;
  /** First stored sequence; last_seq + 1 when the stream is empty. */
  firstSeq: number;
  /** Last sequence ever stored (it stays after the message is deleted or purged); 0 when none. */
  lastSeq: number;
  /** Sequences between first and last that are gone (deleted one by one or by limits). */
  numDeleted: number;
  /** Those sequences, when asked for (withDeleted); the server lists them all at once. */
  deleted?: number[];
  consumerCount: number;
}

/** Names of every stream of the account, sorted. */
export async function listStreams(conn: NatsConnection): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const name of conn.jsm.streams.names()) out.push(name);
  } catch (e) {
    throw new MqbakError('unreachable', `NATS ${conn.target.redacted}: cannot list streams: ${(e as Error).message}`, { cause: e });
  }
  return out.sort();
}

/** One stream's config and state; 'not-found' when there is no such stream. */
export async function describeStream(conn: NatsConnection, name: string, options: { withDeleted?: boolean } = {}): Promise<StreamSummary> {
  let info: StreamInfo;
  try {
    info = await conn.jsm.streams.info(name, options.withDeleted ? { deleted_details: true } : undefined);
  } catch (e) {
    throw streamError(e, conn, name);
  }
  return summarize(info);
}

export function summarize(info: StreamInfo): StreamSummary {
  const s = info.state;
  const out: StreamSummary = {
    name: info.config.name,
    retention: info.config.retention as Retention,
    subjects: [...(info.config.subjects ?? [])],
    config: info.config,
    messages: s.messages,
    bytes: s.bytes,
    firstSeq: s.first_seq,
    lastSeq: s.last_seq,
    numDeleted: s.num_deleted ?? 0,
    consumerCount: s.consumer_count,
  };
  if (s.deleted) out.deleted = [...s.deleted].sort((a, b) => a - b);
  return out;
}

/** A stream API failure as an MqbakError: 'not-found' for a missing stream. */
export function streamError(e: unknown, conn: NatsConnection, name: string): MqbakError {
  if (e instanceof MqbakError) return e;
  const err = e as Error & { api_error?: { err_code?: number } };
  const msg = err.message ?? String(e);
  // 10059: stream not found
  if (err.name === 'StreamNotFoundError' || err.api_error?.err_code === 10059 || /stream not found/i.test(msg)) {
    return new MqbakError('not-found', `NATS ${conn.target.redacted}: no stream ${name}`, { cause: e });
  }
  return new MqbakError('unreachable', `NATS ${conn.target.redacted}: stream ${name}: ${msg}`, { cause: e });
}

/**
 * The sequence of the first message stored at or after `seq`, or undefined when there is none.
 * Exact where the state is not: last_seq stays when the last messages are deleted.
 */
export async function firstStoredFrom(conn: NatsConnection, stream: string, seq: number): Promise<number | undefined> {
  try {
    // MSG.GET takes next_by_subj since server 2.9 (the client's types list it for direct get
    // only, which needs allow_direct on the stream)
    const m = await conn.jsm.streams.getMessage(stream, { seq, next_by_subj: '>' } as unknown as MsgRequest);
    return m?.seq;
  } catch (e) {
    throw streamError(e, conn, stream);
  }
}
