/**
 * The NATS JetStream options of `backup` and `restore`, and the settings they come to, checked
 * before anything connects (a bad one is a 'usage' error, exit 2). Flags shared with another
 * broker (--mode, --checkpoint, --definitions) mean the same thing here.
 */
import type { AdapterOption, AdapterOptionValues } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';
import { checkStreamName } from './address.js';
import { subjectRenamer, type SubjectRename } from './subjects.js';
import { parseNatsUrl } from './url.js';

export type NatsMode = 'mirror' | 'drain';

/** Messages per drain checkpoint: each is a committed backup, then acknowledged (removed). */
export const DEFAULT_CHECKPOINT = 10_000;

export const BACKUP_OPTIONS: readonly AdapterOption[] = [
  { flags: '--streams <a,b>', description: 'NATS: JetStream streams to back up', kind: 'list' },
  { flags: '--all-streams', description: 'NATS: back up every stream of the account', kind: 'flag' },
  { flags: '--mode <mode>', description: 'NATS: mirror (default, limits and interest streams, changes nothing) or drain (work-queue streams)', choices: ['mirror', 'drain'] },
  { flags: '--checkpoint <n>', description: `NATS drain: messages per committed checkpoint (default ${DEFAULT_CHECKPOINT})`, kind: 'positive-int' },
];

export const RESTORE_OPTIONS: readonly AdapterOption[] = [
  { flags: '--definitions', description: 'NATS: recreate the saved durable consumers, each at the first message it had not acknowledged', kind: 'flag' },
  {
    flags: '--subject-map <from=to>',
    description: 'NATS: rename subjects of restored streams and messages, wildcards kept (repeatable), e.g. orders.>=copy.orders.>',
    kind: 'repeatable',
  },
];

export interface NatsBackupSettings {
  /** Empty with allStreams. */
  streams: string[];
  allStreams: boolean;
  mode: NatsMode;
  checkpoint: number;
}

export interface NatsRestoreSettings {
  definitions: boolean;
  subjectRules: SubjectRename[];
  renameSubject: (subject: string) => string;
}

function listOption(options: AdapterOptionValues, key: string): string[] {
  const v = options[key];
  if (v === undefined || v === null) return [];
  const items = Array.isArray(v) ? v.map(String) : String(v).split(',');
  return items.map((s) => s.trim()).filter((s) => s.length > 0);
}

export function backupSettings(url: string, options: AdapterOptionValues): NatsBackupSettings {
  parseNatsUrl(url);
  const streams = [...new Set(listOption(options, 'streams'))];
  const allStreams = Boolean(options.allStreams);
  if (streams.length === 0 && !allStreams) throw new MqbakError('usage', 'no streams given', { hint: 'name them with --streams a,b or pass --all-streams' });
  if (streams.length > 0 && allStreams) throw new MqbakError('usage', '--streams and --all-streams exclude each other');
  for (const s of streams) checkStreamName(s, '--streams');
  const mode = (options.mode as string | undefined) ?? 'mirror';
  if (mode !== 'mirror' && mode !== 'drain') throw new MqbakError('usage', `--mode ${mode}: expected mirror or drain`);
  if (options.checkpoint !== undefined && mode !== 'drain') throw new MqbakError('usage', '--checkpoint applies to --mode drain only');
  const checkpoint = options.checkpoint === undefined ? DEFAULT_CHECKPOINT : Number(options.checkpoint);
  if (!Number.isSafeInteger(checkpoint) || checkpoint < 1) throw new MqbakError('usage', `--checkpoint ${String(options.checkpoint)}: expected a whole number >= 1`);
  return { streams, allStreams, mode, checkpoint };
}

export function restoreSettings(url: string, options: AdapterOptionValues): NatsRestoreSettings {
  parseNatsUrl(url);
  return restoreChoices(options);
}

/** The restore settings that do not depend on the URL (for --dry-run's notes, which connect nowhere). */
export function restoreChoices(options: AdapterOptionValues): NatsRestoreSettings {
  const subjectRules: SubjectRename[] = [];
  for (const item of listOption(options, 'subjectMap')) {
    const i = item.indexOf('=');
    if (i <= 0 || i === item.length - 1) throw new MqbakError('usage', `--subject-map ${item}: expected from=to, e.g. orders.>=copy.orders.>`);
    subjectRules.push({ from: item.slice(0, i), to: item.slice(i + 1) });
  }
  return { definitions: Boolean(options.definitions), subjectRules, renameSubject: subjectRenamer(subjectRules) };
}
