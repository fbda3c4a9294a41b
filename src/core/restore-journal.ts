/**
 * The restore journal: one local JSON file per restore, so that running the same restore again
 * after an interruption continues where it stopped. It lives in the state folder
 * ($XDG_STATE_HOME, else ~/.local/state)/mqbak/restores/, not in the store: a restore must work
 * from a read-only store, and the journal is about the target, not the archive
 * (docs/ARCHITECTURE.md, "The restore journal"). --journal <file> puts it elsewhere.
 *
 * Each stream's entry is its adapter's (Kafka: the end before the first write; RabbitMQ: the
 * settled prefix and the failures). Files are replaced atomically (temporary name, then rename):
 * a crash leaves the old or the new journal, never half of one.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import type { JournalEntry } from '../brokers/adapter.js';
import { MqbakError, messageOf } from '../common/errors.js';

export interface RestoreJournal {
  version: 2;
  backupId: string;
  /** The target URL, redacted. */
  target: string;
  /** By archive stream name. */
  streams: Record<string, JournalEntry>;
  /** A completed restore run again is a new restore, not a resume. */
  completed: boolean;
}

/** What makes two runs the same restore. */
export interface RestoreIdentity {
  /** The store's description (URL). */
  store: string;
  backupId: string;
  /** Redacted target URL. */
  target: string;
  streams: readonly string[];
  renames: Readonly<Record<string, string>>;
  until: number | null;
}

/** The journal's default place: <state folder>/mqbak/restores/<hash of the restore's identity>.json. */
export function journalPathFor(env: Readonly<Record<string, string | undefined>>, id: RestoreIdentity): string {
  const stateHome = env.XDG_STATE_HOME || join(env.HOME || homedir(), '.local', 'state');
  const canonical = JSON.stringify([id.store, id.backupId, id.target, [...id.streams].sort(), Object.entries(id.renames).sort(), id.until]);
  const h = createHash('sha256').update(canonical).digest('hex').slice(0, 24);
  return join(stateHome, 'mqbak', 'restores', `${h}.json`);
}

export async function readJournal(path: string): Promise<RestoreJournal | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MqbakError('usage', `restore journal ${path}: ${messageOf(e)}`);
  }
  try {
    const j = JSON.parse(text) as RestoreJournal;
    if (j.version !== 2 || typeof j.backupId !== 'string' || typeof j.streams !== 'object' || j.streams === null) throw new Error('unknown layout');
    return j;
  } catch (e) {
    throw new MqbakError('usage', `restore journal ${path}: not readable (${messageOf(e)})`, { hint: 'delete it to start the restore over' });
  }
}

export async function writeJournal(path: string, j: RestoreJournal): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(j)}\n`);
  await rename(tmp, path);
}
