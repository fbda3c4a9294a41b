/**
 * RabbitMQ management HTTP API client (fetch): queue discovery, types, arguments and policies,
 * definitions export and import. Credentials travel in the Authorization header, never in URLs
 * that could be printed.
 */
import { MqbakError, messageOf } from '../../common/errors.js';

export interface ManagementOptions {
  /** e.g. http://host:15672 (a path prefix is kept). */
  baseUrl: string;
  user: string;
  password: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface QueueInfo {
  name: string;
  vhost: string;
  type: 'classic' | 'quorum' | 'stream';
  durable: boolean;
  autoDelete: boolean;
  exclusive: boolean;
  arguments: Record<string, unknown>;
  policy: string | null;
  /** The merged policy (and operator policy) definition the broker applies, when it reports one. */
  effectivePolicy: Record<string, unknown>;
  messages: number | null;
  consumers: number | null;
}

export interface Definitions {
  exchanges?: Array<Record<string, unknown>>;
  queues?: Array<Record<string, unknown>>;
  bindings?: Array<Record<string, unknown>>;
  policies?: Array<Record<string, unknown>>;
  users?: Array<Record<string, unknown>>;
  permissions?: Array<Record<string, unknown>>;
  [key: string]: unknown;
}

export interface Policy {
  name: string;
  vhost: string;
  pattern: string;
  'apply-to': string;
  definition: Record<string, unknown>;
  priority: number;
}

export class ManagementClient {
  private readonly base: string;
  private readonly auth: string;

  constructor(private readonly options: ManagementOptions) {
    const u = new URL(options.baseUrl);
    u.username = '';
    u.password = '';
    this.base = u.toString().replace(/\/+$/, '');
    this.auth = `Basic ${Buffer.from(`${options.user}:${options.password}`).toString('base64')}`;
  }

  get description(): string {
    return this.base;
  }

  private async request(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<{ status: number; json: unknown }> {
    const signals = [AbortSignal.timeout(this.options.timeoutMs ?? 30_000)];
    if (this.options.signal) signals.push(this.options.signal);
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: this.auth, 'content-type': 'application/json', accept: 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any(signals),
      });
    } catch (e) {
      if (this.options.signal?.aborted) throw new MqbakError('interrupted', 'interrupted');
      const cause = e instanceof Error && e.cause instanceof Error ? `: ${e.cause.message}` : '';
      throw new MqbakError('unreachable', `RabbitMQ management API ${this.base}: ${messageOf(e)}${cause}`, {
        cause: e,
        retriable: true,
        hint: 'the management plugin must be enabled (rabbitmq-plugins enable rabbitmq_management); set --management-url or MQBAK_RABBITMQ_MANAGEMENT_URL if it is elsewhere',
      });
    }
    const text = await res.text();
    if (!res.ok && !okStatuses.includes(res.status)) {
      const what = `RabbitMQ management API ${method} ${path}: HTTP ${res.status} ${text.slice(0, 300)}`;
      if (res.status === 401) {
        throw new MqbakError('unreachable', what, {
          hint: 'check the user name and password (those of the AMQP URL unless --management-url has its own); the user also needs the "management" tag',
        });
      }
      if (res.status === 403) {
        throw new MqbakError('unreachable', what, { hint: 'the user needs the "management" (or "monitoring"/"administrator") tag and permissions on the vhost' });
      }
      if (res.status === 404) throw new MqbakError('not-found', what);
      throw new MqbakError('unreachable', what, { retriable: res.status >= 500 });
    }
    let json: unknown = null;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = text;
      }
    }
    return { status: res.status, json };
  }

  async overview(): Promise<{ rabbitmqVersion: string; clusterName: string }> {
    const { json } = await this.request('GET', '/api/overview');
    const o = json as Record<string, unknown>;
    return { rabbitmqVersion: String(o.rabbitmq_version ?? ''), clusterName: String(o.cluster_name ?? '') };
  }

  async whoami(): Promise<{ name: string; tags: string[] }> {
    const { json } = await this.request('GET', '/api/whoami');
    const o = json as Record<string, unknown>;
    const tags = Array.isArray(o.tags) ? o.tags.map(String) : String(o.tags ?? '').split(',').filter(Boolean);
    return { name: String(o.name ?? ''), tags };
  }

  async vhostExists(vhost: string): Promise<boolean> {
    const { status } = await this.request('GET', `/api/vhosts/${encodeURIComponent(vhost)}`, undefined, [404]);
    return status !== 404;
  }

  async listQueues(vhost: string): Promise<QueueInfo[]> {
    const { json } = await this.request('GET', `/api/queues/${encodeURIComponent(vhost)}?disable_stats=true&enable_queue_totals=true`);
    return (json as Array<Record<string, unknown>>).map(toQueueInfo);
  }

  async getQueue(vhost: string, name: string): Promise<QueueInfo | null> {
    const { status, json } = await this.request('GET', `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, undefined, [404]);
    if (status === 404) return null;
    return toQueueInfo(json as Record<string, unknown>);
  }

  async policies(vhost: string): Promise<Policy[]> {
    const { json } = await this.request('GET', `/api/policies/${encodeURIComponent(vhost)}`);
    return json as Policy[];
  }

  async operatorPolicies(vhost: string): Promise<Policy[]> {
    const { status, json } = await this.request('GET', `/api/operator-policies/${encodeURIComponent(vhost)}`, undefined, [404, 401, 403]);
    return status === 200 ? (json as Policy[]) : [];
  }

  async definitions(vhost: string): Promise<Definitions> {
    const { json } = await this.request('GET', `/api/definitions/${encodeURIComponent(vhost)}`);
    return json as Definitions;
  }

  /** Users with password hashes, only for --include-users (needs the administrator tag). */
  async users(): Promise<Array<Record<string, unknown>>> {
    const { json } = await this.request('GET', '/api/users');
    return json as Array<Record<string, unknown>>;
  }

  async permissions(vhost: string): Promise<Array<Record<string, unknown>>> {
    const { json } = await this.request('GET', `/api/vhosts/${encodeURIComponent(vhost)}/permissions`);
    return json as Array<Record<string, unknown>>;
  }

  async getExchange(vhost: string, name: string): Promise<Record<string, unknown> | null> {
    const { status, json } = await this.request('GET', `/api/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, undefined, [404]);
    return status === 404 ? null : (json as Record<string, unknown>);
  }

  async putExchange(vhost: string, name: string, body: Record<string, unknown>): Promise<void> {
    await this.request('PUT', `/api/exchanges/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, body);
  }

  async putQueue(vhost: string, name: string, body: Record<string, unknown>): Promise<void> {
    await this.request('PUT', `/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, body);
  }

  async listBindings(vhost: string): Promise<Array<Record<string, unknown>>> {
    const { json } = await this.request('GET', `/api/bindings/${encodeURIComponent(vhost)}`);
    return json as Array<Record<string, unknown>>;
  }

  async postBinding(vhost: string, source: string, destinationType: 'q' | 'e', destination: string, body: Record<string, unknown>): Promise<void> {
    const v = encodeURIComponent(vhost);
    await this.request('POST', `/api/bindings/${v}/e/${encodeURIComponent(source)}/${destinationType}/${encodeURIComponent(destination)}`, body);
  }

  async getPolicy(vhost: string, name: string): Promise<Policy | null> {
    const { status, json } = await this.request('GET', `/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, undefined, [404]);
    return status === 404 ? null : (json as Policy);
  }

  async putPolicy(vhost: string, name: string, body: Record<string, unknown>): Promise<void> {
    await this.request('PUT', `/api/policies/${encodeURIComponent(vhost)}/${encodeURIComponent(name)}`, body);
  }
}

function toQueueInfo(o: Record<string, unknown>): QueueInfo {
  const type = String(o.type ?? 'classic');
  return {
    name: String(o.name),
    vhost: String(o.vhost),
    type: type === 'quorum' || type === 'stream' ? type : 'classic',
    durable: Boolean(o.durable),
    autoDelete: Boolean(o.auto_delete),
    exclusive: Boolean(o.exclusive),
    arguments: (o.arguments as Record<string, unknown> | undefined) ?? {},
    policy: typeof o.policy === 'string' && o.policy !== '' ? o.policy : null,
    effectivePolicy: (o.effective_policy_definition as Record<string, unknown> | undefined) ?? {},
    messages: typeof o.messages === 'number' ? o.messages : null,
    consumers: typeof o.consumers === 'number' ? o.consumers : null,
  };
}

/** The management URL to use: explicit, else http://<amqp host>:15672 (https for amqps). */
export function defaultManagementUrl(amqpHost: string, tls: boolean): string {
  const host = amqpHost.includes(':') && !amqpHost.startsWith('[') ? `[${amqpHost}]` : amqpHost;
  return tls ? `https://${host}:15671` : `http://${host}:15672`;
}

/**
 * Which policy applies to a queue: RabbitMQ picks the matching policy with the highest priority
 * (apply-to "queues", "all", or the queue type's own name). Used where the API does not report
 * effective_policy_definition.
 */
export function matchingPolicy(policies: Policy[], queue: string, type: QueueInfo['type']): Policy | null {
  let best: Policy | null = null;
  for (const p of policies) {
    const applies = p['apply-to'] === 'all' || p['apply-to'] === 'queues' || p['apply-to'] === `${type}_queues`;
    if (!applies) continue;
    let re: RegExp;
    try {
      re = new RegExp(p.pattern);
    } catch {
      continue;
    }
    if (!re.test(queue)) continue;
    if (!best || p.priority > best.priority) best = p;
  }
  return best;
}
