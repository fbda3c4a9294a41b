/**
 * A restore journal: where each target stream stood before this restore first wrote to it.
 * Broker-neutral (stream key -> initial end position). With one writer per target and ordered
 * acknowledged writes, (current end - initial end) is exactly how many planned records landed,
 * even after a SIGKILL between an acknowledgement and any bookkeeping.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { MqbakError } from '../common/errors.js';

export interface RestoreJournal {
  version: 1;
  backupId: string;
  /** "<targetTopic>/<partition>" -> end position before the first write, decimal */
  initialEnds: Record<string, string>;
  completed: boolean;
}

export async function readJournal(path: string): Promise<RestoreJournal | null> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new MqbakError('usage', `restore journal ${path}: ${(e as Error).message}`);
  }
  try {
    const j = JSON.parse(text) as RestoreJournal;
    if (j.version !== 1 || typeof j.initialEnds !== 'object') throw new Error('unknown layout');
    return j;
  } catch (e) {
    throw new MqbakError('usage', `restore journal ${path}: not readable (${(e as Error).message})`, { hint: 'delete it to start the restore over' });
  }
}

/** Written to a temporary name then renamed: a crash leaves the old or the new journal, never half. */
export async function writeJournal(path: string, j: RestoreJournal): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, `${JSON.stringify(j)}\n`);
  await rename(tmp, path);
}
