/**
 * Which queues a backup reads, and what it refuses before touching any: exclusive queues, and a
 * mirror of quorum queues whose delivery limit a return could reach. Pure: the management API's
 * answers come in as arguments.
 */
import { MqbakError } from '../../common/errors.js';
import { matchingPolicy, type Policy, type QueueInfo } from './management.js';
import type { RabbitMode } from './options.js';

/** The archive's stream name of a queue: rabbitmq/<vhost, URL-encoded>/<queue>. */
export function streamName(vhost: string, queue: string): string {
  return `rabbitmq/${encodeURIComponent(vhost)}/${queue}`;
}

export function rabbitChainKey(cluster: string, vhost: string, mode: RabbitMode, queues: string[]): string {
  return `rabbitmq:${cluster}/${encodeURIComponent(vhost)}:${mode}:${[...queues].sort().map(encodeURIComponent).join(',')}`;
}

/**
 * The queues to read, sorted by name: the named ones (each must exist and not be exclusive), or
 * every non-exclusive queue of the vhost (the exclusive ones are warned about).
 */
export function selectQueues(all: QueueInfo[], vhost: string, wanted: { queues: string[]; allQueues: boolean }, warn: (m: string) => void): QueueInfo[] {
  let selected: QueueInfo[];
  if (wanted.allQueues) {
    selected = all.filter((q) => !q.exclusive);
    for (const q of all.filter((x) => x.exclusive)) warn(`queue ${q.name} is exclusive to another connection: skipped`);
  } else {
    if (wanted.queues.length === 0) throw new MqbakError('usage', 'no queues given', { hint: 'name them with --queues a,b or use --all-queues' });
    selected = [];
    for (const n of wanted.queues) {
      const q = all.find((x) => x.name === n);
      if (!q) throw new MqbakError('not-found', `queue ${JSON.stringify(n)} does not exist in vhost ${JSON.stringify(vhost)}`);
      if (q.exclusive) throw new MqbakError('usage', `queue ${n} is exclusive to another connection: it cannot be read`);
      selected.push(q);
    }
  }
  return selected.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * The delivery limit a quorum queue applies, or null for none: the queue's x-delivery-limit
 * argument, the policy's or operator policy's delivery-limit (the lowest wins), and on RabbitMQ 4
 * the default of 20 when nothing is set (-1 there means unlimited).
 */
export function quorumDeliveryLimit(q: QueueInfo, policyDefinitions: Array<Record<string, unknown>>, rabbitmqVersion: string): number | null {
  const candidates: number[] = [];
  const add = (v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (Number.isFinite(n)) candidates.push(n);
  };
  add(q.arguments['x-delivery-limit']);
  add(q.effectivePolicy['delivery-limit']);
  for (const d of policyDefinitions) add(d['delivery-limit']);
  const major = Number(rabbitmqVersion.split('.')[0]);
  const limited = candidates.filter((n) => n >= 0);
  if (limited.length > 0) return Math.min(...limited);
  if (candidates.length > 0) return null; // only -1: unlimited
  return major >= 4 ? 20 : null;
}

/** The delivery limit of every selected quorum queue (null: none), by queue name. */
export function deliveryLimits(selected: QueueInfo[], policies: Policy[], operatorPolicies: Policy[], rabbitmqVersion: string): Map<string, number | null> {
  const limits = new Map<string, number | null>();
  for (const q of selected.filter((x) => x.type === 'quorum')) {
    const defs = [matchingPolicy(policies, q.name, q.type), matchingPolicy(operatorPolicies, q.name, q.type)]
      .filter((p) => p !== null)
      .map((p) => p.definition);
    limits.set(q.name, quorumDeliveryLimit(q, defs, rabbitmqVersion));
  }
  return limits;
}

/**
 * A mirror returns every message it read, which raises a quorum queue's delivery count: refused
 * where a limit applies, unless the user accepts the risk.
 */
export function refuseRiskyMirror(limits: Map<string, number | null>): void {
  const risky = [...limits].filter(([, l]) => l !== null);
  if (risky.length === 0) return;
  const list = risky.map(([n, l]) => `${n} (delivery limit ${l})`).join(', ');
  throw new MqbakError(
    'usage',
    `refusing to mirror quorum queue${risky.length > 1 ? 's' : ''} ${list}: every mirror returns each message once more, raising its delivery count; ` +
      'at the limit RabbitMQ dead-letters or drops the message',
    { hint: 'use --mode drain to empty the queue into the archive, remove the delivery limit, or accept the risk with --accept-redelivery-risk' },
  );
}

/**
 * How long deliveries may be held: --hold-timeout (default 10 min), and never more than 80 % of a
 * consumer timeout set on the queue itself (x-consumer-timeout argument or consumer-timeout
 * policy key, RabbitMQ 3.12+). The broker-wide consumer_timeout (30 min by default) is not
 * visible through the API: the default stays well under it.
 */
export function holdLimit(q: QueueInfo, holdMs: number): number {
  let ms = holdMs;
  for (const v of [q.arguments['x-consumer-timeout'], q.effectivePolicy['consumer-timeout']]) {
    const n = Number(v);
    if (v !== undefined && Number.isFinite(n) && n > 0) ms = Math.min(ms, Math.floor(n * 0.8));
  }
  return ms;
}
