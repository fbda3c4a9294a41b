/**
 * Every object key mqbak writes, in one place (docs/FORMAT.md, "Object keys"). Keys sort in
 * time and position order: backup ids start with their UTC creation time, stream folders and
 * segment numbers are zero-padded.
 *
 *   manifests/<backup-id>.json                                  the commit point of a backup
 *   segments/<backup-id>/<stream-index:4>/<segment-seq:10>.seg  the data, written before it
 *   locks/<name>.json                                           advisory locks (docs/RETENTION.md)
 *   keys/<key-id>.json                                          encrypted stores: key files (encryption/key-ring.ts)
 *
 * Nothing else: a restore's journal is a local file (docs/ARCHITECTURE.md), and the `restores/`
 * objects older versions wrote for RabbitMQ restores are ignored.
 */
import { randomBytes } from 'node:crypto';
import { MqbakError } from '../common/errors.js';

export const MANIFESTS_PREFIX = 'manifests/';
export const SEGMENTS_PREFIX = 'segments/';
export const LOCKS_PREFIX = 'locks/';
/** Where versions before format 2 kept RabbitMQ restore journals; nothing reads or writes it now. */
export const RETIRED_RESTORES_PREFIX = 'restores/';

/** yyyymmddThhmmssSSSZ-xxxxxx */
export const BACKUP_ID_RE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(\d{3})Z-([0-9a-f]{6})$/;

export function isBackupId(s: string): boolean {
  return BACKUP_ID_RE.test(s);
}

/** A new id for a backup started at `now`: the UTC time to the millisecond, then 6 random hex digits. */
export function newBackupId(now: Date, random: string = randomBytes(3).toString('hex')): string {
  const p = (n: number, w: number) => String(n).padStart(w, '0');
  const t =
    `${p(now.getUTCFullYear(), 4)}${p(now.getUTCMonth() + 1, 2)}${p(now.getUTCDate(), 2)}T` +
    `${p(now.getUTCHours(), 2)}${p(now.getUTCMinutes(), 2)}${p(now.getUTCSeconds(), 2)}${p(now.getUTCMilliseconds(), 3)}Z`;
  return `${t}-${random}`;
}

/** The creation time an id carries, as ISO 8601. */
export function backupIdTime(id: string): string | null {
  const m = BACKUP_ID_RE.exec(id);
  if (!m) return null;
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}Z`;
}

export function manifestKey(id: string): string {
  return `${MANIFESTS_PREFIX}${id}.json`;
}

/** The backup id of a manifest key, or null when the key is not one. */
export function idOfManifestKey(key: string): string | null {
  if (!key.startsWith(MANIFESTS_PREFIX) || !key.endsWith('.json')) return null;
  const id = key.slice(MANIFESTS_PREFIX.length, -'.json'.length);
  return isBackupId(id) ? id : null;
}

export function segmentsPrefix(id: string): string {
  return `${SEGMENTS_PREFIX}${id}/`;
}

export function segmentKey(id: string, streamIndex: number, seq: number): string {
  return `${segmentsPrefix(id)}${String(streamIndex).padStart(4, '0')}/${String(seq).padStart(10, '0')}.seg`;
}

/** The backup id a segment key belongs to, or null. */
export function idOfSegmentKey(key: string): string | null {
  if (!key.startsWith(SEGMENTS_PREFIX)) return null;
  const rest = key.slice(SEGMENTS_PREFIX.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return null;
  const id = rest.slice(0, slash);
  return isBackupId(id) ? id : null;
}

/** The key of the advisory lock `name` (backup, restore, forget and prune take them). */
export function lockKey(name: string): string {
  if (name.length === 0 || name.includes('/')) throw new MqbakError('internal', `lock name ${JSON.stringify(name)}: expected a non-empty name without '/'`);
  return `${LOCKS_PREFIX}${name}.json`;
}
