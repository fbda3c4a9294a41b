/**
 * The checks of a command line that need neither a broker, a store nor the command's own module:
 * the store URL and its S3 settings, backup and key ids, files named by options, and options
 * that mean nothing without another one. main() runs them before the command loads, so that a
 * bad value is a usage error (exit 2) at once, never a connection attempt first. What depends
 * on the broker is checked by its adapter (BrokerAdapter.checkBackup/checkRestore,
 * adapter-options.ts), still before connecting; restore's output files by restore-files.ts.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { MqbakError } from '../common/errors.js';
import { isBackupId } from '../archive/keys.js';
import { parseStoreUrl } from '../stores/open.js';
import { checkS3Settings, s3ConfigFrom } from './store.js';
import { lockWaitOf } from './options/common.js';

const ID_HINT = 'backup ids look like 20261125T020000000Z-1a2b3c (see mqbak list)';

/** Options naming a file, where an empty value can only be a mistake (an unset shell variable). */
const EMPTY_IS_WRONG: ReadonlyArray<readonly [string, string]> = [
  ['offsetMap', '--offset-map'],
  ['journal', '--journal'],
  ['metricsFile', '--metrics-file'],
  ['passwordFile', '--password-file'],
  ['newPasswordFile', '--new-password-file'],
];

/** Which argument is the store, by command ('key ...' commands: the first). */
function storeArgument(name: string, args: readonly string[]): string | undefined {
  if (name === 'backup') return args[1];
  return args[0];
}

function backupId(id: string, what: string): void {
  if (!isBackupId(id)) throw new MqbakError('usage', `${what} ${JSON.stringify(id)}: not a backup id`, { hint: ID_HINT });
}

/** A file an option names to be read: there, a file, readable. */
export function readableFile(path: string, flag: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
    if (isFile) accessSync(path, constants.R_OK);
  } catch (e) {
    throw new MqbakError('usage', `${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (!isFile) throw new MqbakError('usage', `${flag} ${path}: not a file`);
}

function given(v: unknown): v is string {
  return typeof v === 'string';
}

/** Throws MqbakError 'usage' for the first thing wrong with `name`'s arguments and options. */
export function checkCommandLine(name: string, args: readonly string[], opts: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv): void {
  const store = storeArgument(name, args);
  if (store !== undefined) {
    const { kind } = parseStoreUrl(store);
    const s3 = s3ConfigFrom(opts, env);
    if (kind === 's3') checkS3Settings(s3);
  }
  // the backup named by an argument: verify's is optional, show's and cat's required
  if ((name === 'verify' || name === 'show' || name === 'cat') && args[1] !== undefined) backupId(args[1], 'backup');
  if (name === 'restore' && given(opts.backup) && opts.backup !== 'latest') backupId(opts.backup, '--backup');
  if (name === 'forget') for (const id of (opts.keepId as string[] | undefined) ?? []) backupId(id, '--keep-id');
  if (name === 'cut' && given(opts.backup)) backupId(opts.backup, '--backup');
  if (opts.lockWait !== undefined) lockWaitOf(opts);
  if (name === 'forget' && opts.grace !== undefined && !opts.prune) {
    throw new MqbakError('usage', '--grace applies to --prune only', { hint: 'add --prune, or leave --grace out' });
  }
  if (name === 'key remove' && args[1] !== undefined && !/^[0-9a-f]{8}$/.test(args[1])) {
    throw new MqbakError('usage', `key ${JSON.stringify(args[1])}: not a key id (8 hex digits)`, { hint: 'see mqbak key list' });
  }
  for (const [key, flag] of EMPTY_IS_WRONG) if (opts[key] === '') throw new MqbakError('usage', `${flag}: empty path`);
  if (given(opts.passwordFile)) readableFile(opts.passwordFile, '--password-file');
  if (given(opts.newPasswordFile)) readableFile(opts.newPasswordFile, '--new-password-file');
  if (given(opts.passwordFile) && given(opts.passwordCommand)) throw new MqbakError('usage', '--password-file and --password-command exclude each other');
  // the job names what is pushed: without a Pushgateway nothing is
  if (given(opts.metricsJob) && !given(opts.pushgateway) && !env.MQBAK_PUSHGATEWAY_URL) {
    throw new MqbakError('usage', '--metrics-job applies to --pushgateway only', { hint: 'add --pushgateway URL (or MQBAK_PUSHGATEWAY_URL), or leave --metrics-job out' });
  }
}
