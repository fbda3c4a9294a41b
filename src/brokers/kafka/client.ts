/**
 * The kafkajs client mqbak connects with: its connection settings and the factory. kafkajs is
 * imported here only when a client is made, so that loading the adapter (mqbak --help) stays fast.
 */
import type { Kafka, SASLOptions } from 'kafkajs';
import { withContext, type MqbakError } from '../../common/errors.js';
import { raceAbort } from '../../common/abort.js';
import type { Progress } from '../../common/progress.js';
import { socketFactory } from './socket-reads.js';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaConnection {
  brokers: string[];
  clientId: string;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
  tls?: { ca?: string; cert?: string; key?: string; rejectUnauthorized: boolean };
  progress: Progress;
  debug: boolean;
  /** The run's signal (SIGINT, SIGTERM): every wait on the cluster gives way to it. */
  signal?: AbortSignal;
}

/** kafkajs logs JSON to the console by default: everything goes through Progress instead. */
export async function createKafka(c: KafkaConnection): Promise<Kafka> {
  const { default: kafkajs } = await import('kafkajs');
  const { logLevel } = kafkajs;
  // kafkajs' own messages (retries, rebalances) are noise for users: shown only with --debug;
  // what matters reaches the user as the error kafkajs finally throws
  const logCreator = () => (entry: { level: number; namespace: string; log: { message: string } }) => {
    if (c.debug) c.progress.info(`kafka ${entry.namespace}: ${entry.log.message}`);
  };
  return new kafkajs.Kafka({
    brokers: c.brokers,
    clientId: c.clientId,
    ssl: c.tls ? { ca: c.tls.ca, cert: c.tls.cert, key: c.tls.key, rejectUnauthorized: c.tls.rejectUnauthorized } : undefined,
    sasl: c.sasl ? ({ mechanism: c.sasl.mechanism, username: c.sasl.username, password: c.sasl.password } as SASLOptions) : undefined,
    logLevel: c.debug ? logLevel.DEBUG : logLevel.WARN,
    logCreator,
    retry: { retries: 5 },
    // plain TCP reads into one reused buffer per socket (socket-reads.ts)
    socketFactory: socketFactory(),
  });
}

/** A failure to reach the brokers, with what was being done ('connect to Kafka host:9092: ...'). */
export function unreachable(e: unknown, what: string): MqbakError {
  return withContext(e, what, 'unreachable');
}

/**
 * A kafkajs client (admin, producer, consumer) whose every call gives way to the signal. kafkajs
 * takes no signal and retries on its own (a connect to a broker that is gone: 5 retries, about
 * 9 s), so each promise a call returns is raced with the signal: 'interrupted' at once, the call
 * going on unobserved (a disconnect too: callers ignore its outcome).
 */
export function untilAborted<T extends object>(client: T, signal: AbortSignal | undefined): T {
  if (!signal) return client;
  return new Proxy(client, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        const r: unknown = (v as (...a: unknown[]) => unknown).apply(target, args);
        return r instanceof Promise ? raceAbort(r, signal) : r;
      };
    },
  });
}
