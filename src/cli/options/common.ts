import { InvalidArgumentError, type Command } from 'commander';
import { MqbakError } from '../../common/errors.js';
import { parseDuration } from '../../core/retention-policy.js';
import { MAX_LEVEL } from '../../archive/codec.js';

/** For repeatable options such as --map a=b --map c=d. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Comma-separated list, empty items dropped. */
export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/**
 * --until: an ISO 8601 date (UTC midnight) or date and time with its zone (Z or +hh:mm), as ms
 * since the epoch. Date.parse alone takes "5" as May 2001 and a time without a zone as local
 * time: a restore would then silently leave out what the user meant to keep.
 */
export function isoTime(value: string, flag: string): number {
  const s = value.trim();
  const date = /^\d{4}-\d{2}-\d{2}$/.test(s);
  const dateTime = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})$/.test(s);
  const ms = date || dateTime ? Date.parse(s.replace(' ', 'T')) : Number.NaN;
  if (Number.isNaN(ms)) {
    const noZone = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:[\d.]+)?$/.test(s);
    throw new MqbakError('usage', `${flag} ${value}: expected an ISO 8601 time`, {
      hint: noZone ? 'give the zone: Z for UTC, e.g. 2026-11-24T23:00:00Z' : 'e.g. 2026-11-24T23:00:00Z or 2026-11-24 (UTC midnight)',
    });
  }
  return ms;
}

/** --level: a zstd level mqbak's codecs run at, 1 to MAX_LEVEL (checked again by the backup writer). */
export function compressionLevel(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n < 1 || n > MAX_LEVEL) throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_LEVEL}`);
  return n;
}

export function wholeNumber(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

/** --scrypt-n: the scrypt cost N of the new key file (r = 8, p = 1); checked again by kdf.ts. */
export function scryptN(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1024 || (n & (n - 1)) !== 0) {
    throw new InvalidArgumentError('expected a power of two of at least 1024, such as 131072');
  }
  return n;
}

/** Sizes such as 1048576, 512k, 64m, 1g (powers of 1024). */
export function byteSize(value: string): number {
  const m = /^(\d+)\s*([kmg]?)(i?b)?$/i.exec(value.trim());
  if (!m) throw new InvalidArgumentError('expected a size such as 64m or 1048576');
  const unit = (m[2] ?? '').toLowerCase();
  const mult = unit === 'k' ? 1024 : unit === 'm' ? 1024 ** 2 : unit === 'g' ? 1024 ** 3 : 1;
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('size out of range');
  return n;
}

/** --lock-wait: how long a command that locks the store waits for another's lock (docs/RETENTION.md, "Locks"). */
export const DEFAULT_LOCK_WAIT = '1m';

/** --lock-wait in milliseconds: 0, or a duration such as 30s, 10m or 1h. */
export function lockWaitOf(opts: Record<string, unknown>): number {
  const text = String(opts.lockWait ?? DEFAULT_LOCK_WAIT).trim();
  return text === '0' ? 0 : parseDuration(text, '--lock-wait');
}

/**
 * Options every command that opens a store takes (S3 and S3-compatible servers); with `locks`,
 * the command takes a lock on the store (backup, restore, forget, prune) and waits for others'.
 */
export function storeOptions(cmd: Command, locks?: 'locks'): Command {
  if (locks) {
    cmd.option(
      '--lock-wait <duration>',
      `how long to wait when another mqbak holds a conflicting lock on the store (forget and prune lock it whole, backup and restore share it), such as 30s, 10m, 1h, or 0 to refuse at once (default ${DEFAULT_LOCK_WAIT})`,
    );
  }
  return cmd
    .option('--s3-endpoint <url>', 'S3-compatible endpoint URL (env MQBAK_S3_ENDPOINT or AWS_ENDPOINT_URL_S3)')
    .option('--s3-region <region>', 'S3 region (env MQBAK_S3_REGION, AWS_REGION; default us-east-1)')
    .option('--s3-path-style', 'path-style bucket addressing, needed by most S3-compatible servers (env MQBAK_S3_PATH_STYLE=1)')
    .option(
      '--s3-checksum <mode>',
      'when-supported (SDK default) or when-required, for servers that reject the SDK\'s checksums (env MQBAK_S3_CHECKSUM)',
    )
    .option('--s3-sse <mode>', 'S3 server-side encryption of every upload: AES256 or aws:kms (env MQBAK_S3_SSE)')
    .option('--s3-sse-kms-key-id <id>', 'with --s3-sse aws:kms: the KMS key id, ARN or alias (env MQBAK_S3_SSE_KMS_KEY_ID)')
    .option('--password-file <file>', 'password of an encrypted store: this file\'s bytes, one final newline removed (env MQBAK_PASSWORD_FILE)')
    .option('--password-command <cmd>', 'password of an encrypted store: what this shell command prints (env MQBAK_PASSWORD_COMMAND)');
}

export function jsonOption(cmd: Command, what: string): Command {
  return cmd.option('--json', `print ${what} as JSON on stdout`);
}

/** --map src=dst items (repeatable) as a lookup; a source mapped twice is a usage error. */
export function parseMap(items: string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const item of items) {
    const i = item.indexOf('=');
    if (i <= 0 || i === item.length - 1) throw new MqbakError('usage', `--map ${item}: expected src=dst`);
    const src = item.slice(0, i);
    if (map[src] !== undefined) throw new MqbakError('usage', `--map: ${src} is mapped twice`);
    map[src] = item.slice(i + 1);
  }
  return map;
}
