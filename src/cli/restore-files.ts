/**
 * The local files a restore writes, made sure of before the store is read or the target touched:
 * a path in a missing folder, under a regular file, on a read-only file system or where the
 * user may not write fails at once (exit 2 for a path the user gave), not after every record
 * was published.
 *
 * The offset map is written to a temporary file beside FILE, created now, and renamed to FILE
 * only when the restore returns a result (exit 0 or 3): a restore that stops with an error or an
 * interrupt leaves no map (and a FILE from an earlier run as it was), never an empty or partial
 * one under the name asked for (docs/OFFSET-MAP.md).
 */
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { MqbakError, type ErrorCode } from '../common/errors.js';

export interface OffsetMapFile {
  /** Where the restore writes the map; becomes the path asked for on commit(). */
  readonly tempPath: string;
  /** Renames the written map to the path asked for. */
  commit(): Promise<void>;
  /** Removes the temporary file (dry run, failure); the path asked for is left as it was. */
  discard(): Promise<void>;
}

function errno(e: unknown): string {
  return (e as NodeJS.ErrnoException).code ?? String(e);
}

/** A file can be created in `dir`: it is made (with 'wx', never over another) and kept or removed. */
async function createIn(dir: string, name: string, what: string, code: ErrorCode, hint?: string): Promise<string> {
  const path = join(dir, name);
  try {
    const fh = await open(path, 'wx');
    await fh.close();
  } catch (e) {
    throw new MqbakError(code, `${what}: cannot create a file in ${dir} (${errno(e)})`, hint === undefined ? {} : { hint });
  }
  return path;
}

/** A file path's folder, which must exist: the user's path, not created for them. */
async function existingFolderOf(path: string, what: string): Promise<string> {
  const dir = dirname(resolve(path));
  try {
    if (!(await stat(dir)).isDirectory()) throw new MqbakError('usage', `${what}: ${dir} is not a folder`);
  } catch (e) {
    if (e instanceof MqbakError) throw e;
    throw new MqbakError('usage', `${what}: folder ${dir} ${errno(e) === 'ENOENT' ? 'does not exist' : `cannot be used (${errno(e)})`}`);
  }
  return dir;
}

async function notAFolder(path: string, what: string): Promise<void> {
  const st = await stat(path).catch(() => null);
  if (st?.isDirectory()) throw new MqbakError('usage', `${what}: ${path} is a folder`, { hint: 'name a file' });
}

/** --offset-map FILE: checked and its temporary file created, before the restore starts. */
export async function openOffsetMap(path: string): Promise<OffsetMapFile> {
  const what = `--offset-map ${path}`;
  await notAFolder(path, what);
  const dir = await existingFolderOf(path, what);
  const tempPath = await createIn(dir, `.${basename(path)}.mqbak-tmp-${process.pid}`, what, 'usage');
  return {
    tempPath,
    async commit() {
      try {
        await rename(tempPath, path);
      } catch (e) {
        throw new MqbakError('usage', `${what}: the map is in ${tempPath}, it could not be renamed (${errno(e)})`);
      }
    },
    async discard() {
      await rm(tempPath, { force: true });
    },
  };
}

/**
 * The journal's folder can hold it: created when missing (as the journal always was), and a
 * file made and removed in it. `given`: the user named the file (--journal, MQBAK_RESTORE_JOURNAL),
 * a failure is theirs (exit 2); otherwise it is the state folder's (exit 5).
 */
export async function checkJournalPlace(path: string, given: boolean): Promise<void> {
  const what = given ? `restore journal ${path}` : `restore journal folder ${dirname(path)}`;
  const code: ErrorCode = given ? 'usage' : 'unreachable';
  const hint = given ? undefined : 'pass --journal FILE to keep the journal elsewhere';
  await notAFolder(path, what);
  const dir = dirname(resolve(path));
  try {
    await mkdir(dir, { recursive: true });
  } catch (e) {
    const why = errno(e) === 'EEXIST' || errno(e) === 'ENOTDIR' ? `${dir} is not a folder, or is under a file` : `cannot create folder ${dir} (${errno(e)})`;
    throw new MqbakError(code, `${what}: ${why}`, hint === undefined ? {} : { hint });
  }
  await rm(await createIn(dir, `.mqbak-journal-probe-${process.pid}`, what, code, hint), { force: true });
}
