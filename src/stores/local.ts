/**
 * The local-folder store: one file per key under `root`, '/' in a key is a sub-folder.
 *
 * Durability: a put writes a temporary file in the destination folder, fsyncs it, links it to its
 * final name (link(2) fails if the name exists, which makes write-once atomic even between
 * processes), removes the temporary name and fsyncs the folder. A crash leaves at most a
 * temporary file, which list() never shows.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { MqbakError, throwIfAborted } from '../common/errors.js';
import { StoreNotFoundError, type ByteRange, type ObjectInfo, type Store } from './store.js';

/** Temporary files start with this; keys may not contain a name starting with it. */
const TMP_PREFIX = '.mqbak-tmp-';

export class LocalStore implements Store {
  readonly description: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.description = this.root;
  }

  private where(): string {
    return `store ${this.root}`;
  }

  /** Rejects keys that could leave the folder or collide with temporary files. */
  private pathOf(key: string): string {
    if (typeof key !== 'string' || key.length === 0) throw new MqbakError('internal', `${this.where()}: empty key`);
    if (key.startsWith('/')) throw new MqbakError('internal', `${this.where()}: absolute key ${JSON.stringify(key)}`);
    if (key.includes('\\') || key.includes('\0')) throw new MqbakError('internal', `${this.where()}: invalid character in key ${JSON.stringify(key)}`);
    for (const part of key.split('/')) {
      if (part === '' || part === '.' || part === '..' || part.startsWith(TMP_PREFIX)) {
        throw new MqbakError('internal', `${this.where()}: invalid key ${JSON.stringify(key)}`);
      }
    }
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, body: Uint8Array | readonly Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    const parts = body instanceof Uint8Array ? [body] : body;
    const size = parts.reduce((n, p) => n + p.length, 0);
    const file = this.pathOf(key);
    throwIfAborted(options.signal);
    const dir = path.dirname(file);
    try {
      const created = await fs.mkdir(dir, { recursive: true });
      // new folders must survive a crash too: fsync every parent that gained an entry
      if (created !== undefined) {
        const stop = path.dirname(created);
        for (let d = path.dirname(dir); ; d = path.dirname(d)) {
          await fsyncDir(d);
          if (d === stop || d === path.dirname(d)) break;
        }
      }
    } catch (e) {
      throw fsError(e, `${this.where()}: create folder for ${key}`);
    }
    if (await exists(file)) throw new MqbakError('exists', `${this.where()}: object ${key} already exists`);
    const tmp = path.join(dir, `${TMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let linked = false;
    try {
      const fh = await fs.open(tmp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
      try {
        for (const part of parts) {
          let off = 0;
          while (off < part.length) {
            throwIfAborted(options.signal);
            const { bytesWritten } = await fh.write(part, off, Math.min(part.length - off, 8 * 1024 * 1024));
            off += bytesWritten;
          }
        }
        await fh.sync();
      } finally {
        await fh.close();
      }
      throwIfAborted(options.signal);
      try {
        await fs.link(tmp, file);
        linked = true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new MqbakError('exists', `${this.where()}: object ${key} already exists`);
        // file systems without hard links: check-then-rename (not atomic between processes)
        if (code === 'EPERM' || code === 'ENOTSUP' || code === 'EOPNOTSUPP' || code === 'ENOSYS') {
          if (await exists(file)) throw new MqbakError('exists', `${this.where()}: object ${key} already exists`);
          await fs.rename(tmp, file);
          linked = true;
        } else {
          throw e;
        }
      }
      await fs.rm(tmp, { force: true });
      await fsyncDir(dir);
    } catch (e) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      if (e instanceof MqbakError) throw e;
      throw fsError(e, `${this.where()}: write ${key}`);
    }
    void linked;
    return { key, size, modified: await mtimeOf(file) };
  }

  async get(key: string, options: { range?: ByteRange; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const file = this.pathOf(key);
    throwIfAborted(options.signal);
    let fh: fs.FileHandle;
    try {
      fh = await fs.open(file, 'r');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') throw new StoreNotFoundError(key, this.where());
      throw fsError(e, `${this.where()}: read ${key}`);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new StoreNotFoundError(key, this.where());
      let start = 0;
      let end = st.size;
      if (options.range) {
        const r = options.range;
        if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0 || r.end < r.start) {
          throw new MqbakError('internal', `${this.where()}: invalid range [${r.start}, ${r.end}) for ${key}`);
        }
        // like S3: a range past the end gives what there is
        start = Math.min(r.start, st.size);
        end = Math.min(r.end, st.size);
      }
      const out = new Uint8Array(end - start);
      let off = 0;
      while (off < out.length) {
        throwIfAborted(options.signal);
        const { bytesRead } = await fh.read(out, off, Math.min(out.length - off, 8 * 1024 * 1024), start + off);
        if (bytesRead === 0) break; // shrank while reading: the caller's length checks notice
        off += bytesRead;
      }
      return off === out.length ? out : out.subarray(0, off);
    } catch (e) {
      if (e instanceof MqbakError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EISDIR') throw new StoreNotFoundError(key, this.where());
      throw fsError(e, `${this.where()}: read ${key}`);
    } finally {
      await fh.close();
    }
  }

  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | null> {
    const file = this.pathOf(key);
    throwIfAborted(options.signal);
    try {
      const st = await fs.stat(file);
      return st.isFile() ? { key, size: st.size, modified: st.mtimeMs } : null;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return null;
      throw fsError(e, `${this.where()}: stat ${key}`);
    }
  }

  async *list(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<ObjectInfo> {
    // start in the deepest folder the prefix names; filter its entries by the rest
    const slash = prefix.lastIndexOf('/');
    const folderKey = slash < 0 ? '' : prefix.slice(0, slash);
    const rest = slash < 0 ? prefix : prefix.slice(slash + 1);
    if (folderKey !== '') {
      for (const part of folderKey.split('/')) if (part === '' || part === '.' || part === '..') return;
    }
    const folder = folderKey === '' ? this.root : path.join(this.root, ...folderKey.split('/'));
    yield* this.walk(folder, folderKey === '' ? '' : `${folderKey}/`, rest, options.signal);
  }

  private async *walk(folder: string, keyPrefix: string, nameFilter: string, signal: AbortSignal | undefined): AsyncGenerator<ObjectInfo> {
    throwIfAborted(signal);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(folder, { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw fsError(e, `${this.where()}: list ${keyPrefix}`);
    }
    // a folder "x" holds keys "x/...": it sorts as "x/" so that the walk gives plain byte order
    const items = entries
      .filter((d) => !d.name.startsWith(TMP_PREFIX) && d.name.startsWith(nameFilter) && (d.isDirectory() || d.isFile()))
      .map((d) => ({ d, sortKey: Buffer.from(d.isDirectory() ? `${d.name}/` : d.name) }))
      .sort((a, b) => Buffer.compare(a.sortKey, b.sortKey));
    for (const { d } of items) {
      const full = path.join(folder, d.name);
      const key = `${keyPrefix}${d.name}`;
      if (d.isDirectory()) {
        yield* this.walk(full, `${key}/`, '', signal);
      } else {
        let st: import('node:fs').Stats;
        try {
          st = await fs.stat(full);
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // deleted meanwhile
          throw fsError(e, `${this.where()}: list ${key}`);
        }
        yield { key, size: st.size, modified: st.mtimeMs };
      }
    }
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const file = this.pathOf(key);
    throwIfAborted(options.signal);
    try {
      await fs.unlink(file);
      await fsyncDir(path.dirname(file));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw fsError(e, `${this.where()}: delete ${key}`);
    }
  }

  async close(): Promise<void> {}
}

/** A just-written file's mtime, or null when it cannot be read (the write itself succeeded). */
async function mtimeOf(file: string): Promise<number | null> {
  try {
    return (await fs.stat(file)).mtimeMs;
  } catch {
    return null;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.lstat(file);
    return true;
  } catch {
    return false;
  }
}

async function fsyncDir(dir: string): Promise<void> {
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

function fsError(e: unknown, context: string): MqbakError {
  const err = e as NodeJS.ErrnoException;
  const message = `${context}: ${err?.message ?? String(e)}`;
  if (err?.code === 'EACCES' || err?.code === 'EROFS' || err?.code === 'ENOSPC' || err?.code === 'EDQUOT') {
    return new MqbakError('unreachable', message, { cause: e, hint: 'check the folder permissions and free space' });
  }
  return new MqbakError('internal', message, { cause: e });
}
