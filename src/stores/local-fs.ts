/**
 * File-system steps of the local-folder store (local.ts) and what their failures mean to mqbak.
 * An error the operating system reports (an errno code: ENOSPC, EROFS, EACCES, ...) is a problem
 * of the machine or of the folder, never a bug in mqbak: it is 'unreachable' (exit 5) with the
 * path and the cause in its message and a hint that says what to do. Only a failure without an
 * errno code is 'internal'.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { MqbakError } from '../common/errors.js';

/** What an operator can do about each errno a store folder may answer with. */
const HINTS: Readonly<Record<string, string>> = {
  ENOSPC: 'free space on the file system that holds the store, then run the command again',
  EDQUOT: 'the disk quota of this user is used up: free space or raise the quota, then run the command again',
  EROFS: 'the store folder is on a read-only file system: give a folder on a writable one',
  EACCES: 'this user may not do that in the store folder: check its owner and permissions',
  EPERM: 'this user may not do that in the store folder: check its owner, permissions and attributes',
  ENOTDIR: 'a file stands where the store needs a folder: move it away or give another store path',
  EISDIR: 'a folder stands where the store needs a file: something other than mqbak wrote in the store',
  EEXIST: 'a file stands where the store needs a folder: something other than mqbak wrote in the store',
  EMFILE: 'too many open files: raise the limit (ulimit -n)',
  EIO: 'the disk reported an input/output error: check the device',
};

/**
 * A file-system failure as an MqbakError. `context` says what was done ("store /b: write k");
 * `file` is the path it was done to, added when the system's message does not name it (a write
 * to an open file does not).
 */
export function fsError(e: unknown, context: string, file?: string): MqbakError {
  if (e instanceof MqbakError) return e;
  const err = e as NodeJS.ErrnoException | undefined;
  const code = typeof err?.code === 'string' && /^E[A-Z0-9]+$/.test(err.code) ? err.code : undefined;
  const text = err instanceof Error ? err.message : String(e);
  if (code === undefined) return new MqbakError('internal', `${context}: ${text}`, { cause: e });
  const named = err?.path !== undefined || file === undefined ? '' : ` (${file})`;
  // Node's message starts with the code and its meaning: "ENOSPC: no space left on device, write"
  return new MqbakError('unreachable', `${context}${named}: ${text}`, { cause: e, hint: HINTS[code] ?? 'check the store folder and the file system that holds it' });
}

/** An errno error made here, shaped as Node's own (code, path, message). */
function errnoError(code: string, text: string, file: string, syscall: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: ${text}, ${syscall} '${file}'`);
  e.code = code;
  e.path = file;
  e.syscall = syscall;
  return e;
}

/**
 * Like mkdir -p, but a failure tells its real cause: Node's recursive mkdir answers ENOENT for a
 * folder it may not create on a read-only file system, where one mkdir per level answers EROFS.
 * Returns the first folder it created (as fs.mkdir with `recursive` does), or undefined.
 */
export async function makeFolders(dir: string): Promise<string | undefined> {
  const missing: string[] = [];
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    let st: import('node:fs').Stats | undefined;
    try {
      st = await fs.stat(d);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
    }
    if (st) {
      if (!st.isDirectory()) throw errnoError('ENOTDIR', 'not a directory', d, 'mkdir');
      break;
    }
    missing.unshift(d);
    if (d === path.dirname(d)) break;
  }
  for (const d of missing) {
    try {
      await fs.mkdir(d);
    } catch (e) {
      // made meanwhile by another put: fine when it is a folder
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !(await fs.stat(d)).isDirectory()) throw e;
    }
  }
  return missing[0];
}

export async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  let fh: fs.FileHandle | undefined;
  try {
    fh = await fs.open(dir, 'r');
    await fh.sync();
  } catch (e) {
    // some file systems refuse fsync on a folder (EINVAL/EISDIR); the file itself is synced
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR' && code !== 'EPERM' && code !== 'EBADF') throw e;
  } finally {
    await fh?.close();
  }
}

/** A just-written file's mtime, or null when it cannot be read (the write itself succeeded). */
export async function mtimeOf(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch {
    return null;
  }
}
