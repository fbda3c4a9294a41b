/**
 * Every broker mqbak knows, one line each: its name (the manifest's source.broker), the URL
 * schemes that select it, and how to load it. Loading is lazy: an adapter's folder is imported
 * only when a command needs it, and an adapter imports its client library (kafkajs, amqplib) only
 * when it opens a source or a sink, so `mqbak --help` stays fast.
 *
 * Adding a broker: a folder under src/brokers/ whose adapter.ts exports `adapter: BrokerAdapter`,
 * and one line below (docs/ARCHITECTURE.md, "Adding a broker").
 */
import { MqbakError } from '../common/errors.js';
import type { BrokerAdapter } from './adapter.js';

export interface AdapterRegistration {
  /** Equal to the adapter's `name`. */
  readonly name: string;
  /** URL schemes without '://', lower case; equal to the adapter's `schemes`. */
  readonly schemes: readonly string[];
  readonly load: () => Promise<BrokerAdapter>;
}

export const ADAPTERS: readonly AdapterRegistration[] = [
  { name: 'kafka', schemes: ['kafka'], load: async () => (await import('./kafka/adapter.js')).adapter },
  { name: 'rabbitmq', schemes: ['amqp', 'amqps'], load: async () => (await import('./rabbitmq/adapter.js')).adapter },
  { name: 'nats', schemes: ['nats', 'tls'], load: async () => (await import('./nats/adapter.js')).adapter },
];

/** The scheme of a URL, lower case, without '://'; null when `url` has none. */
export function schemeOf(url: string): string | null {
  const m = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url);
  return m ? m[1]!.toLowerCase() : null;
}

export function registrationForUrl(url: string): AdapterRegistration | null {
  const scheme = schemeOf(url);
  return scheme === null ? null : (ADAPTERS.find((a) => a.schemes.includes(scheme)) ?? null);
}

/**
 * The adapter for a source or target URL. `what` names the argument in the error
 * ('backup source', 'restore target'); an unknown scheme lists every adapter's example URL.
 */
export async function adapterForUrl(url: string, what: string): Promise<BrokerAdapter> {
  const r = registrationForUrl(url);
  if (r === null) {
    const shown = JSON.stringify(url.length > 60 ? `${url.slice(0, 60)}...` : url);
    const examples = (await allAdapters()).map((a) => a.urlExample);
    throw new MqbakError('usage', `${what} ${shown}: expected ${examples.join(' or ')}`);
  }
  return await loadChecked(r);
}

/** The adapter that wrote a backup (the manifest's source.broker), or null when none has that name. */
export async function adapterNamed(name: string): Promise<BrokerAdapter | null> {
  const r = ADAPTERS.find((a) => a.name === name);
  return r ? await loadChecked(r) : null;
}

/** Every adapter, in registry order (the CLI registers all their options). */
export async function allAdapters(): Promise<BrokerAdapter[]> {
  return await Promise.all(ADAPTERS.map(loadChecked));
}

async function loadChecked(r: AdapterRegistration): Promise<BrokerAdapter> {
  const a = await r.load();
  // a registry line that disagrees with its adapter would route URLs to the wrong broker
  if (a.name !== r.name || a.schemes.join(',') !== r.schemes.join(',')) {
    throw new MqbakError('internal', `broker registry: ${r.name} (${r.schemes.join(', ')}) loads adapter ${a.name} (${a.schemes.join(', ')})`);
  }
  return a;
}
