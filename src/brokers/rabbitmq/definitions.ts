/**
 * Vhost definitions (exchanges, queues with their arguments, bindings, policies; users only when
 * asked): what a backup keeps, and recreating them on a target vhost. Existing objects that
 * differ are reported, never changed.
 */
import type { Definitions, ManagementClient } from './management.js';

export interface SavedDefinitions {
  rabbitmqVersion: string | null;
  exchanges: Array<Record<string, unknown>>;
  queues: Array<Record<string, unknown>>;
  bindings: Array<Record<string, unknown>>;
  policies: Array<Record<string, unknown>>;
  /** Only with --include-users: users with their password hashes, and their permissions on the vhost. */
  users?: Array<Record<string, unknown>>;
  permissions?: Array<Record<string, unknown>>;
}

export async function exportDefinitions(mgmt: ManagementClient, vhost: string, options: { includeUsers: boolean }): Promise<SavedDefinitions> {
  const d: Definitions = await mgmt.definitions(vhost);
  const saved: SavedDefinitions = {
    rabbitmqVersion: typeof d.rabbitmq_version === 'string' ? d.rabbitmq_version : typeof d.rabbit_version === 'string' ? d.rabbit_version : null,
    exchanges: d.exchanges ?? [],
    queues: d.queues ?? [],
    bindings: d.bindings ?? [],
    policies: d.policies ?? [],
  };
  if (options.includeUsers) {
    const perms = await mgmt.permissions(vhost);
    const names = new Set(perms.map((p) => String(p.user)));
    saved.users = (await mgmt.users()).filter((u) => names.has(String(u.name)));
    saved.permissions = perms;
  }
  return saved;
}

export interface ApplyReport {
  created: string[];
  unchanged: string[];
  /** Objects that exist on the target with other settings: left as they are. */
  conflicts: string[];
  notes: string[];
}

function canon(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

function args(o: Record<string, unknown> | null | undefined): Record<string, unknown> {
  return (o?.arguments as Record<string, unknown> | undefined) ?? {};
}

/**
 * Recreates saved definitions on `vhost`: policies, exchanges, queues (renamed by `rename`), then
 * bindings (destinations renamed too). Default and amq.* exchanges are left alone.
 */
export async function applyDefinitions(
  mgmt: ManagementClient,
  vhost: string,
  defs: SavedDefinitions,
  rename: (queue: string) => string,
  options: { queues?: Set<string> } = {},
): Promise<ApplyReport> {
  const report: ApplyReport = { created: [], unchanged: [], conflicts: [], notes: [] };
  const wantedQueue = (name: string) => !options.queues || options.queues.has(name);

  for (const p of defs.policies) {
    const name = String(p.name);
    const body = { pattern: p.pattern, 'apply-to': p['apply-to'] ?? 'all', definition: p.definition ?? {}, priority: p.priority ?? 0 };
    const existing = await mgmt.getPolicy(vhost, name);
    if (!existing) {
      await mgmt.putPolicy(vhost, name, body);
      report.created.push(`policy ${name}`);
    } else if (
      existing.pattern !== body.pattern ||
      existing['apply-to'] !== body['apply-to'] ||
      canon(existing.definition) !== canon(body.definition) ||
      existing.priority !== body.priority
    ) {
      report.conflicts.push(`policy ${name} exists with another pattern, definition or priority: left unchanged`);
    } else report.unchanged.push(`policy ${name}`);
    for (const q of defs.queues) {
      const qn = String(q.name);
      if (!wantedQueue(qn) || rename(qn) === qn) continue;
      try {
        const re = new RegExp(String(p.pattern));
        if (re.test(qn) && !re.test(rename(qn))) {
          report.notes.push(`policy ${name} (pattern ${String(p.pattern)}) applied to queue ${qn} but does not match its new name ${rename(qn)}`);
        }
      } catch {
        // a pattern RabbitMQ accepts but JS does not: nothing to say about it
      }
    }
  }

  for (const x of defs.exchanges) {
    const name = String(x.name);
    if (name === '' || name.startsWith('amq.')) continue;
    const body = { type: x.type, durable: x.durable ?? true, auto_delete: x.auto_delete ?? false, internal: x.internal ?? false, arguments: args(x) };
    const existing = await mgmt.getExchange(vhost, name);
    if (!existing) {
      await mgmt.putExchange(vhost, name, body);
      report.created.push(`exchange ${name}`);
    } else if (
      existing.type !== body.type ||
      Boolean(existing.durable) !== Boolean(body.durable) ||
      Boolean(existing.auto_delete) !== Boolean(body.auto_delete) ||
      Boolean(existing.internal) !== Boolean(body.internal) ||
      canon(args(existing)) !== canon(body.arguments)
    ) {
      report.conflicts.push(`exchange ${name} exists with another type, flags or arguments: left unchanged`);
    } else report.unchanged.push(`exchange ${name}`);
  }

  for (const q of defs.queues) {
    const src = String(q.name);
    if (!wantedQueue(src)) continue;
    const name = rename(src);
    const body = { durable: q.durable ?? true, auto_delete: q.auto_delete ?? false, arguments: args(q) };
    const existing = await mgmt.getQueue(vhost, name);
    const label = name === src ? `queue ${name}` : `queue ${name} (was ${src})`;
    if (!existing) {
      await mgmt.putQueue(vhost, name, body);
      report.created.push(label);
    } else {
      const wantType = String(body.arguments['x-queue-type'] ?? 'classic');
      const { ['x-queue-type']: _a, ...wantArgs } = body.arguments;
      const { ['x-queue-type']: _b, ...haveArgs } = existing.arguments;
      if (existing.type !== wantType || existing.durable !== Boolean(body.durable) || canon(haveArgs) !== canon(wantArgs)) {
        report.conflicts.push(`${label} exists with another type, durability or arguments: left unchanged`);
      } else report.unchanged.push(label);
    }
  }

  const existingBindings = new Set((await mgmt.listBindings(vhost)).map(bindingKey));
  for (const b of defs.bindings) {
    const source = String(b.source);
    if (source === '') continue; // the default exchange's implicit bindings
    const dtype = String(b.destination_type) === 'exchange' ? 'exchange' : 'queue';
    let destination = String(b.destination);
    if (dtype === 'queue') {
      if (!wantedQueue(destination)) continue;
      destination = rename(destination);
    }
    const binding = { source, destination, destination_type: dtype, routing_key: String(b.routing_key ?? ''), arguments: args(b) };
    const label = `binding ${source} -> ${dtype} ${destination} (${JSON.stringify(binding.routing_key)})`;
    if (existingBindings.has(bindingKey(binding))) {
      report.unchanged.push(label);
      continue;
    }
    await mgmt.postBinding(vhost, source, dtype === 'queue' ? 'q' : 'e', destination, { routing_key: binding.routing_key, arguments: binding.arguments });
    report.created.push(label);
  }

  if (defs.users && defs.users.length > 0) {
    report.notes.push(`the backup holds ${defs.users.length} user(s); mqbak does not recreate users: import them with rabbitmqctl import_definitions if needed`);
  }
  return report;
}

function bindingKey(b: Record<string, unknown>): string {
  return canon([b.source, b.destination, b.destination_type, b.routing_key ?? '', args(b)]);
}
