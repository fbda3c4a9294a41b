/**
 * The RabbitMQ options of `backup` and `restore`, and the settings they come to, checked before
 * anything connects. The CLI parses the flags (and fills them from their environment variables);
 * everything RabbitMQ-specific about their meaning is here.
 */
import type { AdapterOption, AdapterOptionValues } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import { parseAmqpUrl, redactAmqpUrl } from './amqp-url.js';

export type RabbitMode = 'mirror' | 'drain';

/** AMQP 0-9-1 prefetch-count is an unsigned 16-bit field, and a drain checkpoint is held unacknowledged. */
export const MAX_CHECKPOINT = 65535;
// 20,000 rather than more: RabbitMQ works harder the more deliveries a channel holds unacknowledged
// and the bigger one multiple-ack is (docs/PERFORMANCE.md: a 100,000-message drain took 15% longer
// and 20% more broker CPU in checkpoints of 50,000)
export const DEFAULT_CHECKPOINT = 20_000;
/** Deliveries may be held 10 minutes: well under RabbitMQ's consumer_timeout (30 min by default). */
export const DEFAULT_HOLD_MS = 10 * 60_000;
/**
 * A mirror or drain ends after 5 s without a delivery when the queue has no ready message left;
 * while it still reports some (a slow broker), it waits up to this long without one.
 */
export const DEFAULT_STALL_MS = 60_000;
/**
 * Unconfirmed messages a restore allows in flight. The core hands a queue writer at most two
 * archive blocks at a time and waits for the older one's confirms, so with messages of about
 * 1 KiB (some 770 to a 1 MiB block) two blocks stay under this and are in flight together
 * (docs/PERFORMANCE.md, "RabbitMQ restore: the confirm window").
 */
export const DEFAULT_WINDOW = 4000;

const MANAGEMENT_OPTION: AdapterOption = {
  flags: '--management-url <url>',
  description: 'RabbitMQ management API (default http://<host>:15672 with the AMQP credentials; env MQBAK_RABBITMQ_MANAGEMENT_URL)',
  kind: 'string',
  env: 'MQBAK_RABBITMQ_MANAGEMENT_URL',
};

export const BACKUP_OPTIONS: readonly AdapterOption[] = [
  { flags: '--queues <a,b>', description: 'RabbitMQ: queues to back up', kind: 'list' },
  { flags: '--all-queues', description: 'RabbitMQ: back up every queue of the vhost', kind: 'flag' },
  { flags: '--mode <mode>', description: 'RabbitMQ: mirror (default, non-destructive) or drain (removes what was archived)', kind: 'string' },
  { flags: '--max-messages <n>', description: 'RabbitMQ drain: stop after this many messages per queue', kind: 'positive-int' },
  {
    flags: '--accept-redelivery-risk',
    description: 'RabbitMQ mirror: read quorum queues even where returning messages could reach their delivery limit',
    kind: 'flag',
  },
  { flags: '--include-users', description: 'RabbitMQ: keep users and password hashes in the saved definitions', kind: 'flag' },
  {
    flags: '--hold-timeout <seconds>',
    description: 'RabbitMQ: longest time deliveries are held unacknowledged, well under consumer_timeout (default 600; env MQBAK_RABBITMQ_HOLD_TIMEOUT)',
    kind: 'seconds',
    env: 'MQBAK_RABBITMQ_HOLD_TIMEOUT',
  },
  {
    flags: '--checkpoint <n>',
    description: `RabbitMQ drain: messages per committed checkpoint backup, acknowledged after its manifest is stored (default ${DEFAULT_CHECKPOINT}, max ${MAX_CHECKPOINT})`,
    kind: 'positive-int',
  },
  MANAGEMENT_OPTION,
];

export const RESTORE_OPTIONS: readonly AdapterOption[] = [
  { flags: '--definitions', description: 'RabbitMQ: recreate saved exchanges, queues, bindings and policies first', kind: 'flag' },
  { flags: '--via-exchange', description: 'RabbitMQ: publish to the original exchange and routing key instead of the queue', kind: 'flag' },
  MANAGEMENT_OPTION,
];

export interface ManagementSettings {
  url: string;
  user: string;
  password: string;
}

export interface BackupSettings {
  mode: RabbitMode;
  /** Empty with allQueues. */
  queues: string[];
  allQueues: boolean;
  /** Drain: stop after this many messages per queue. */
  maxMessages: number | null;
  /** Drain: messages per checkpoint (a committed backup, then one multiple-ack). */
  checkpoint: number;
  acceptRedeliveryRisk: boolean;
  includeUsers: boolean;
  /** Longest time deliveries are held (mirror: the whole read; drain: one checkpoint). */
  holdMs: number;
  management: ManagementSettings;
  /** A queue that delivers nothing for this long has nothing more for us. */
  idleMs: number;
  /** Mirror and drain: the longest silence waited out while the queue still reports ready messages (src/brokers/rabbitmq/idle-wait.ts). */
  stallMs: number;
  /** Tests only: per-consumer prefetch cap (exercises several consumers on one channel). */
  maxPrefetchPerConsumer?: number;
}

export interface RestoreSettings {
  definitions: boolean;
  viaExchange: boolean;
  management: ManagementSettings;
  window: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function positive(values: AdapterOptionValues, key: string, flag: string, fallback?: string): number | null {
  const v = values[key] ?? fallback;
  if (v === undefined || v === null) return null;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new MqbakError('usage', `${flag}: expected a positive number, got ${JSON.stringify(v)}`);
  return n;
}

function list(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
  return items.map((s) => s.trim()).filter((s) => s !== '');
}

/** The settings of a backup from `url`; fails with 'usage' on anything wrong, without connecting. */
export function backupSettings(url: string, values: AdapterOptionValues, env: Env): BackupSettings {
  const mode = (values.mode as string | undefined) ?? 'mirror';
  if (mode !== 'mirror' && mode !== 'drain') throw new MqbakError('usage', `--mode ${mode}: expected mirror or drain`);
  const queues = list(values.queues);
  const allQueues = Boolean(values.allQueues);
  if (!allQueues && queues.length === 0) throw new MqbakError('usage', 'no queues given', { hint: 'name them with --queues a,b or use --all-queues' });
  if (allQueues && queues.length > 0) throw new MqbakError('usage', '--queues and --all-queues exclude each other');
  const maxMessages = positive(values, 'maxMessages', '--max-messages');
  if (maxMessages !== null && mode !== 'drain') throw new MqbakError('usage', '--max-messages applies to --mode drain only');
  const checkpoint = positive(values, 'checkpoint', '--checkpoint');
  if (checkpoint !== null && mode !== 'drain') throw new MqbakError('usage', '--checkpoint applies to --mode drain only');
  if (values.acceptRedeliveryRisk && mode !== 'mirror') throw new MqbakError('usage', '--accept-redelivery-risk applies to --mode mirror only', { hint: 'drain returns nothing to the queue: there is no redelivery to risk' });
  if (checkpoint !== null && checkpoint > MAX_CHECKPOINT) {
    throw new MqbakError('usage', `--checkpoint: at most ${MAX_CHECKPOINT} (the AMQP prefetch limit: a checkpoint is held unacknowledged)`);
  }
  const holdSeconds = positive(values, 'holdTimeout', '--hold-timeout', env.MQBAK_RABBITMQ_HOLD_TIMEOUT);
  parseAmqpUrl(url);
  const management = managementFrom(url, managementUrlOf(values, env));
  return {
    mode,
    queues,
    allQueues,
    maxMessages: maxMessages === null ? null : Math.floor(maxMessages),
    checkpoint: Math.floor(checkpoint ?? DEFAULT_CHECKPOINT),
    acceptRedeliveryRisk: Boolean(values.acceptRedeliveryRisk),
    includeUsers: Boolean(values.includeUsers),
    holdMs: holdSeconds === null ? DEFAULT_HOLD_MS : holdSeconds * 1000,
    management,
    idleMs: typeof values.idleMs === 'number' ? values.idleMs : 5000,
    stallMs: typeof values.stallMs === 'number' ? values.stallMs : DEFAULT_STALL_MS,
    maxPrefetchPerConsumer: typeof values.maxPrefetchPerConsumer === 'number' ? values.maxPrefetchPerConsumer : undefined,
  };
}

/** The settings of a restore into `url`; fails with 'usage' on anything wrong, without connecting. */
export function restoreSettings(url: string, values: AdapterOptionValues, env: Env): RestoreSettings {
  parseAmqpUrl(url);
  const management = managementFrom(url, managementUrlOf(values, env));
  return {
    definitions: Boolean(values.definitions),
    viaExchange: Boolean(values.viaExchange),
    management,
    window: typeof values.window === 'number' && values.window > 0 ? values.window : DEFAULT_WINDOW,
  };
}

/** --management-url, or its variable when the CLI did not fill it in. */
function managementUrlOf(values: AdapterOptionValues, env: Env): string | undefined {
  const v = values.managementUrl ?? env.MQBAK_RABBITMQ_MANAGEMENT_URL;
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/**
 * Management API address and credentials: --management-url (or MQBAK_RABBITMQ_MANAGEMENT_URL,
 * which the CLI puts there), else http(s)://<amqp host>:15672 (15671 for amqps). Credentials in
 * that URL win; otherwise the AMQP URL's (guest/guest when it has none).
 */
export function managementFrom(amqpUrl: string, managementUrl: string | undefined): ManagementSettings {
  let a: URL;
  try {
    a = new URL(amqpUrl);
  } catch {
    throw new MqbakError('usage', `not a valid AMQP URL: ${redactAmqpUrl(amqpUrl)}`, { hint: 'expected amqp://user:pass@host:port/vhost (vhost "/" is %2F)' });
  }
  const host = a.hostname;
  const raw = managementUrl ?? (a.protocol === 'amqps:' ? `https://${host}:15671` : `http://${host}:15672`);
  let m: URL;
  try {
    m = new URL(raw);
  } catch {
    throw new MqbakError('usage', `--management-url ${redactAmqpUrl(raw)}: not a valid URL`, { hint: 'e.g. http://rabbit:15672' });
  }
  if (m.protocol !== 'http:' && m.protocol !== 'https:') {
    throw new MqbakError('usage', `--management-url ${redactAmqpUrl(raw)}: expected an http:// or https:// URL`, { hint: 'e.g. http://rabbit:15672' });
  }
  const decode = (s: string, what: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      throw new MqbakError('usage', `${what}: bad %-encoding in the user name or password`);
    }
  };
  const fromAmqp = (s: string) => decode(s, `AMQP URL ${redactAmqpUrl(amqpUrl)}`);
  const fromManagement = (s: string) => decode(s, `--management-url ${redactAmqpUrl(raw)}`);
  const user = m.username ? fromManagement(m.username) : a.username ? fromAmqp(a.username) : 'guest';
  const password = m.username ? fromManagement(m.password) : a.username ? fromAmqp(a.password) : 'guest';
  m.username = '';
  m.password = '';
  return { url: m.toString(), user, password };
}
