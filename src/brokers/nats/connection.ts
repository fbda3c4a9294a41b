/**
 * The connection to a NATS server with JetStream.
 *
 * Client: @nats-io/transport-node with @nats-io/jetstream 3.4, not `nats` 2.x. Both install on
 * Node 20 and both offer ordered consumers, publish acknowledgements with Nats-Msg-Id, direct get
 * and consumer info (delivered, ack floor); 3.x is the maintained line, split into packages so
 * mqbak loads only the core and JetStream, and its consumer API is the one 2.x only adds on top.
 * Neither carries headers faithfully: both parse the header block into a map by name (a name that
 * comes back after another loses its place, values are trimmed and decoded as UTF-8, so bytes
 * that are not UTF-8 are replaced). mqbak therefore reads the raw header block of each message
 * and publishes its own block (see header-block.ts and raw-message.ts); that relies on internal
 * fields of the 3.4 message class (its raw subject, reply subject, header length and bytes), which
 * is why the version is pinned exactly. The backup's reader does not use the client's consumers
 * (pull-consumer.ts).
 *
 * Everything is loaded lazily: a run without NATS does not pay for the client.
 */
import type { NatsConnection as CoreConnection } from '@nats-io/nats-core';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import { MqbakError } from '../../common/errors.js';
import { raceAbort } from '../../common/abort.js';
import { parseNatsUrl, type NatsTarget } from './url.js';

export { raceAbort };

export interface NatsConnection {
  nc: CoreConnection;
  jsm: JetStreamManager;
  js: JetStreamClient;
  target: NatsTarget;
  /** Closes the connection; safe to call twice. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  signal?: AbortSignal;
  /** Per connection attempt; the client tries every server of the URL. Default 10 s. */
  timeoutMs?: number;
  /** Shown by the server in its connection list. */
  name?: string;
}

type Transport = typeof import('@nats-io/transport-node');
type JetStream = typeof import('@nats-io/jetstream');
let modules: Promise<[Transport, JetStream]> | undefined;

export function loadNatsModules(): Promise<[Transport, JetStream]> {
  modules ??= Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]);
  return modules;
}

/**
 * Connects and checks that JetStream answers. Errors are 'unreachable' with the reason, or
 * 'interrupted' when the signal fires first. After connecting, the signal closes the connection,
 * so that whatever waits on it fails at once instead of at its own timeout.
 */
export async function connectNats(url: string, options: ConnectOptions = {}): Promise<NatsConnection> {
  const target = parseNatsUrl(url);
  const { signal } = options;
  if (signal?.aborted) throw new MqbakError('interrupted', 'interrupted');
  const [transport, jetstream] = await loadNatsModules();
  const attempt = transport.connect({
    servers: target.servers,
    user: target.user,
    pass: target.pass,
    token: target.token,
    tls: target.tls ? {} : undefined,
    name: options.name ?? 'mqbak',
    timeout: options.timeoutMs ?? 10_000,
    // a backup or restore fails and is rerun rather than hanging on a server that went away
    reconnect: false,
  });
  let nc: CoreConnection;
  try {
    nc = await raceAbort(attempt, signal);
  } catch (e) {
    // a connection that arrives after the abort is closed, not leaked
    attempt.then((late) => late.close(), () => undefined);
    if (e instanceof MqbakError) throw e;
    throw connectError(e, target);
  }
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    signal?.removeEventListener('abort', onAbort);
    await nc.close().catch(() => undefined);
  };
  const onAbort = (): void => void close();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    // checkAPI: one account-info request, which fails when the server runs without JetStream
    const jsm = await raceAbort(jetstream.jetstreamManager(nc, { checkAPI: true }), signal);
    return { nc, jsm, js: jetstream.jetstream(nc), target, close };
  } catch (e) {
    await close();
    if (e instanceof MqbakError) throw e;
    throw new MqbakError('unreachable', `NATS ${target.redacted}: JetStream does not answer: ${(e as Error).message}`, {
      hint: 'the server must run with JetStream enabled (nats-server -js), and the user must be allowed to use it',
      cause: e,
    });
  }
}

function connectError(e: unknown, target: NatsTarget): MqbakError {
  const err = e as Error & { code?: string };
  const msg = err.message ?? String(e);
  if (err.name === 'AuthorizationError' || /authorization/i.test(msg)) {
    return new MqbakError('unreachable', `NATS ${target.redacted}: authorization refused`, {
      hint: 'check the user and password (nats://user:pass@host:port) or the token (nats://token@host:port)',
      cause: e,
    });
  }
  return new MqbakError('unreachable', `cannot connect to NATS ${target.redacted}: ${msg}`, {
    hint: 'is nats-server running there with JetStream (nats-server -js)?',
    retriable: true,
    cause: e,
  });
}
