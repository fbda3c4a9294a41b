/**
 * Where a JetStream stream lives: its name. Stored in the manifest as {stream}; archive streams
 * are named nats/<stream> (a JetStream stream is one ordered log: one archive stream each).
 */
import type { StreamAddress } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';

export interface NatsAddress {
  stream: string;
}

export function natsAddress(stream: string): NatsAddress & StreamAddress {
  return { stream };
}

/** The address read back from a manifest: anything else is an archive this adapter did not write. */
export function asNatsAddress(a: StreamAddress): NatsAddress {
  const { stream } = a;
  if (typeof stream !== 'string' || stream === '') throw new MqbakError('integrity', `not a JetStream stream address: ${JSON.stringify(a)}`);
  return { stream };
}

export function streamName(stream: string): string {
  return `nats/${stream}`;
}

/** For people: stream ORDERS. */
export function describeAddress(a: StreamAddress): string {
  return `stream ${asNatsAddress(a).stream}`;
}

/**
 * A JetStream stream name: no spaces, dots, wildcards or path separators (the server refuses
 * them, and the restore's deduplication ids are built from it).
 */
export function checkStreamName(name: string, what: string): void {
  if (name === '' || /[\s.*>/\\]/.test(name)) {
    throw new MqbakError('usage', `${what} ${JSON.stringify(name)}: not a JetStream stream name (no spaces, dots, *, >, / or \\)`);
  }
}
