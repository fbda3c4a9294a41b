/**
 * Broker adapters' own command-line options (AdapterOption): every adapter's are registered on
 * `backup` and `restore` (a flag two adapters share, once), and when a command runs, the URL's
 * adapter gets its values; an option of another adapter given on the command line is refused
 * (exit 2) rather than silently ignored, and so is a generic alias named after another broker's
 * streams (restore --topics on a RabbitMQ target, --queues on a Kafka one).
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AdapterOption, AdapterOptionValues, BrokerAdapter } from '../brokers/adapter.js';
import { MqbakError, messageOf } from '../common/errors.js';
import { collect, commaList, positiveInt } from './options/common.js';

export type AdapterRole = 'backup' | 'restore';

function optionsOf(a: BrokerAdapter, role: AdapterRole): readonly AdapterOption[] {
  return role === 'backup' ? a.backupOptions : a.restoreOptions;
}

function positiveSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a positive number of seconds');
  return n;
}

function parserOf(kind: AdapterOption['kind']): ((value: string, previous: unknown) => unknown) | null {
  switch (kind) {
    case 'list':
      return (v) => commaList(v);
    case 'positive-int':
      return (v) => positiveInt(v);
    case 'seconds':
      return (v) => positiveSeconds(v);
    case 'repeatable':
      return (v, prev) => collect(v, prev as string[] | undefined);
    default:
      return null;
  }
}

/** commander's attribute name of an option: '--topic-regex <re>' -> 'topicRegex'. */
function keyOf(o: AdapterOption): string {
  return new Option(o.flags).attributeName();
}

function longOf(o: AdapterOption): string {
  return new Option(o.flags).long ?? o.flags;
}

/**
 * Adds every adapter's options for `role` to `cmd`; a flag already on the command (a generic
 * option) is not added again, and a flag several adapters declare is added once, the first
 * declaration's kind deciding, with every adapter's description ('RabbitMQ: ...; NATS: ...').
 */
export function addAdapterOptions(cmd: Command, adapters: readonly BrokerAdapter[], role: AdapterRole): void {
  const generic = new Set(cmd.options.map((o) => o.long));
  const byFlag = new Map<string | undefined, { first: AdapterOption; descriptions: string[] }>();
  for (const a of adapters) {
    for (const o of optionsOf(a, role)) {
      const long = new Option(o.flags).long;
      if (generic.has(long)) continue;
      const known = byFlag.get(long);
      if (known) {
        if (!known.descriptions.includes(o.description)) known.descriptions.push(o.description);
      } else byFlag.set(long, { first: o, descriptions: [o.description] });
    }
  }
  for (const { first, descriptions } of byFlag.values()) {
    const opt = new Option(first.flags, descriptions.join('; '));
    const parse = parserOf(first.kind);
    if (parse) opt.argParser(parse);
    cmd.addOption(opt);
  }
}

/** Generic options that are aliases of --streams for the adapters whose selectorNoun they name. */
const SELECTOR_ALIASES: ReadonlyArray<readonly [string, string]> = [
  ['topics', 'topic'],
  ['queues', 'queue'],
];

/**
 * The values of `adapter`'s options out of everything commander parsed: given ones checked
 * against their choices, missing ones read from their environment variable. Refuses, with
 * MqbakError 'usage', an option only other adapters declare.
 */
export function adapterOptionValues(
  adapter: BrokerAdapter,
  adapters: readonly BrokerAdapter[],
  role: AdapterRole,
  opts: Readonly<Record<string, unknown>>,
  env: Readonly<Record<string, string | undefined>>,
): AdapterOptionValues {
  const mine = optionsOf(adapter, role);
  const mineKeys = new Set(mine.map(keyOf));
  const refuse = (flag: string, owners: readonly BrokerAdapter[]): never => {
    throw new MqbakError('usage', `${flag} is an option of ${owners.map((a) => a.title).join(' and ')}, not of ${adapter.title} ${role === 'backup' ? 'sources' : 'targets'}`, {
      hint: `see mqbak ${role} --help`,
    });
  };
  for (const other of adapters) {
    if (other === adapter) continue;
    for (const o of optionsOf(other, role)) {
      const key = keyOf(o);
      if (mineKeys.has(key) || opts[key] === undefined) continue;
      refuse(longOf(o), adapters.filter((a) => optionsOf(a, role).some((x) => keyOf(x) === key)));
    }
  }
  // generic aliases of --streams named after one broker's streams (restore --topics, --queues)
  for (const [key, noun] of SELECTOR_ALIASES) {
    if (mineKeys.has(key) || opts[key] === undefined || adapter.selectorNoun === noun) continue;
    refuse(`--${key}`, adapters.filter((a) => a.selectorNoun === noun));
  }
  const values: Record<string, unknown> = {};
  for (const o of mine) {
    const key = keyOf(o);
    let v = opts[key];
    if (v === undefined && o.env !== undefined && env[o.env] !== undefined && env[o.env] !== '') v = fromEnv(o, env[o.env]!);
    if (v === undefined) continue;
    if (o.choices && !(Array.isArray(v) ? v : [v]).every((x) => o.choices!.includes(String(x)))) {
      throw new MqbakError('usage', `${longOf(o)} ${String(v)}: expected ${or(o.choices)}`);
    }
    values[key] = v;
  }
  return values;
}

function fromEnv(o: AdapterOption, raw: string): unknown {
  if (o.kind === 'flag') return raw === '1' || raw.toLowerCase() === 'true';
  const parse = parserOf(o.kind);
  if (!parse) return raw;
  try {
    return parse(raw, undefined);
  } catch (e) {
    throw new MqbakError('usage', `${o.env}=${raw}: ${messageOf(e)}`);
  }
}

function or(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
