/**
 * The amqplib connection, with what mqbak adds to it: the raw bytes of every content header, so
 * headers keep their AMQP types (frame-reader.ts), and batched writes. amqplib is loaded lazily.
 */
import type { ChannelModel, ConsumeMessage } from 'amqplib';
import { MqbakError, messageOf } from '../../common/errors.js';
import { interruptedError, raceAbort } from '../../common/abort.js';
import type { AmqpProperties } from './amqp-types.js';
import { decodeBasicProperties, type DecodeNotes } from './amqp-codec.js';
import { parseAmqpUrl, redactAmqpUrl, type AmqpTarget } from './amqp-url.js';
import { installFrameReader, rawPropertiesOf } from './frame-reader.js';

export { rawPropertiesOf } from './frame-reader.js';

export interface RabbitConnection {
  model: ChannelModel;
  target: AmqpTarget;
  close(): Promise<void>;
}

type AmqplibModule = typeof import('amqplib');
let amqplibPromise: Promise<AmqplibModule> | undefined;

async function loadAmqplib(): Promise<AmqplibModule> {
  amqplibPromise ??= import('amqplib').then((m) => ((m as unknown as { default?: AmqplibModule }).default ?? m) as AmqplibModule);
  return amqplibPromise;
}

/**
 * Connects with { noDelay: true } (without it Nagle's algorithm holds back small frames: a
 * get/ack loop measured ~23 msg/s) and installs the content-header capture. Errors become
 * 'unreachable' with the reason, a vhost RabbitMQ refuses to open 'not-found' naming it, and
 * the signal 'interrupted' at once.
 */
export async function connectRabbit(url: string, options: { signal?: AbortSignal; heartbeat?: number } = {}): Promise<RabbitConnection> {
  const target = parseAmqpUrl(url);
  const amqp = await loadAmqplib();
  const u = new URL(url);
  if (!u.searchParams.has('heartbeat')) u.searchParams.set('heartbeat', String(options.heartbeat ?? 30));
  let model: ChannelModel;
  // amqplib's connect takes no signal and waits up to its timeout: raced, and a connection that
  // opens after the signal is closed, not kept
  if (options.signal?.aborted) throw interruptedError();
  const attempt = amqp.connect(u.toString(), { noDelay: true, timeout: 15_000 });
  try {
    model = await raceAbort(attempt, options.signal);
  } catch (e) {
    if (options.signal?.aborted) {
      attempt.then((late) => late.close().catch(() => {}), () => {});
      throw interruptedError();
    }
    throw connectFailure(e, url, target);
  }
  installFrameReader(model);
  installPublishExtras(model);
  installWriteBatching(model);
  // an 'error' event without a listener would crash the process; failures surface on the calls
  model.on('error', () => {});
  const onAbort = () => {
    model.close().catch(() => {});
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  return {
    model,
    target,
    async close() {
      options.signal?.removeEventListener('abort', onAbort);
      await model.close().catch(() => {});
    },
  };
}

/**
 * RabbitMQ closes the connection in answer to connection.open (530 NOT_ALLOWED) when the vhost
 * does not exist or the user has no permissions on it; amqplib 2.3 keeps not the reply text
 * ("Expected ConnectionOpenOk; got <ConnectionClose channel:0>"), older ones did.
 */
const VHOST_REFUSED = /Expected ConnectionOpenOk; got <ConnectionClose|NOT[-_]ALLOWED/i;

function connectFailure(e: unknown, url: string, target: AmqpTarget): MqbakError {
  const msg = messageOf(e);
  if (VHOST_REFUSED.test(msg)) {
    const vhost = JSON.stringify(target.vhost);
    return new MqbakError('not-found', `vhost ${vhost} does not exist on ${redactAmqpUrl(url)}, or user ${target.user} may not use it (RabbitMQ refused to open it)`, {
      cause: e,
      hint: `create it first (rabbitmqctl add_vhost ${target.vhost}) and give the user permissions on it (rabbitmqctl set_permissions -p ${target.vhost} ${target.user} '.*' '.*' '.*')`,
    });
  }
  const refused = /ACCESS_REFUSED|403/i.test(msg);
  return new MqbakError('unreachable', `connect to ${redactAmqpUrl(url)}: ${msg}`, {
    cause: e,
    hint: refused ? 'check the user and password' : undefined,
  });
}

/** Properties with their AMQP types, from the captured bytes. */
export function propertiesOf(msg: ConsumeMessage, notes: DecodeNotes): AmqpProperties {
  return decodeBasicProperties(rawPropertiesOf(msg), notes);
}

/**
 * What amqplib's publish options cannot say: "no headers table at all" (amqplib always sends one)
 * and cluster-id (amqplib always leaves it out). The sink hangs them, under this symbol, on the
 * headers object it passes; amqplib's Args.publish makes props.headers an object whose prototype
 * is that one, so the symbol is still visible when the connection encodes the message.
 */
export const PUBLISH_EXTRAS = Symbol('mqbak.publishExtras');

export interface PublishExtras {
  noHeaders?: boolean;
  clusterId?: string;
}

/** Whether this connection honours PUBLISH_EXTRAS (false if amqplib's internals changed). */
const EXTRAS_INSTALLED = Symbol('mqbak.extrasInstalled');

export function publishExtrasSupported(model: ChannelModel): boolean {
  return Boolean((model as unknown as Record<symbol, unknown>)[EXTRAS_INSTALLED]);
}

type SendMessage = (channel: number, method: number, fields: unknown, properties: number, props: Record<string, unknown>, content: Buffer) => boolean;

/**
 * Wraps this connection's Connection#sendMessage(channel, Method, fields, Properties, props,
 * content): when the headers carry PUBLISH_EXTRAS, it drops the headers table and/or sets
 * cluster-id on a copy of props before amqplib encodes them.
 */
function installPublishExtras(model: ChannelModel): void {
  const conn = (model as unknown as { connection: { sendMessage?: SendMessage } }).connection;
  const original = conn?.sendMessage;
  if (typeof original !== 'function' || original.length !== 6) return;
  conn.sendMessage = function (this: unknown, channel, method, fields, properties, props, content) {
    const headers = props?.headers as Record<symbol, PublishExtras | undefined> | undefined;
    const extras = headers?.[PUBLISH_EXTRAS];
    if (extras) {
      props = { ...props };
      if (extras.noHeaders) props.headers = undefined;
      if (extras.clusterId !== undefined) props.clusterId = extras.clusterId;
    }
    return original.call(this, channel, method, fields, properties, props, content);
  };
  Object.defineProperty(model, EXTRAS_INSTALLED, { value: true });
}

interface Muxer {
  out: { cork?: () => void; uncork?: () => void };
  _readIncoming?: () => void;
}

/**
 * amqplib's Mux writes every frame it takes from the channels to the socket with its own write,
 * and with noDelay each is a system call and, mostly, a TCP segment the broker reads on its own:
 * a restore publishing a window's worth of messages at once made one per message. Corking the
 * socket while the Mux hands over what the channels hold sends them with one writev; the frames
 * and their order are unchanged. Left alone if amqplib's internals are not as expected.
 */
function installWriteBatching(model: ChannelModel): void {
  const mux = (model as unknown as { connection?: { muxer?: Muxer } }).connection?.muxer;
  const original = mux?._readIncoming;
  const out = mux?.out;
  if (!mux || typeof original !== 'function' || typeof out?.cork !== 'function' || typeof out.uncork !== 'function') return;
  mux._readIncoming = function (this: Muxer) {
    out.cork!();
    try {
      original.call(this);
    } finally {
      out.uncork!();
    }
  };
}
