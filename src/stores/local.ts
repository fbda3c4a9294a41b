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
import { exists, fsError, fsyncDir, makeFolders, mtimeOf } from './local-fs.js';
import { StoreNotFoundError, type ByteRange, type ObjectInfo, type Store, type StoreAccess } from './store.js';

/** Temporary files start with this; keys may not contain a name starting with it. */
const TMP_PREFIX = '.mqbak-tmp-';

export class LocalStore implements Store {
  readonly description: string;
  readonly remote = false;
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
      const created = await makeFolders(dir);
      // new folders must survive a crash too: fsync every parent that gained an entry
      if (created !== undefined) {
        const stop = path.dirname(created);
        for (let d = path.dirname(dir); ; d = path.dirname(d)) {
          await fsyncDir(d);
          if (d === stop || d === path.dirname(d)) break;
        }
      }
    } catch (e) {
      throw fsError(e, `${this.where()}: create folder for ${key}`, dir);
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
      throw fsError(e, `${this.where()}: write ${key}`, file);
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
      throw fsError(e, `${this.where()}: read ${key}`, file);
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
      throw fsError(e, `${this.where()}: read ${key}`, file);
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
      throw fsError(e, `${this.where()}: stat ${key}`, file);
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
      throw fsError(e, `${this.where()}: list ${keyPrefix || '(all)'}`, folder);
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
          throw fsError(e, `${this.where()}: list ${key}`, full);
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
      throw fsError(e, `${this.where()}: delete ${key}`, file);
    }
  }

  /**
   * 'read': the folder must exist (a missing path or a file is 'not-found', as for a missing
   * bucket). 'write': a missing folder is created, as the first put would; a file where the
   * folder should be is the user's path gone wrong ('usage'). Whether files can be written in it
   * (read-only, full, permissions) shows at the first put, which a backup makes at once (its lock).
   */
  async check(access: StoreAccess, options: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(options.signal);
    const hint = 'a local store is a folder: check the path';
    let st: import('node:fs').Stats;
    try {
      st = await fs.stat(this.root);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(e, `${this.where()}: look at the folder`, this.root);
      if (access === 'read') {
        throw new MqbakError('not-found', `${this.where()} does not exist${code === 'ENOTDIR' ? ` (${await fileOnPath(this.root)} is a file)` : ''}`, { hint });
      }
      try {
        await makeFolders(this.root);
        await fsyncDir(path.dirname(this.root));
      } catch (made) {
        if ((made as NodeJS.ErrnoException).code !== 'ENOTDIR') throw fsError(made, `${this.where()}: create the folder`, this.root);
        throw new MqbakError('usage', `${this.where()}: ${await fileOnPath(this.root)} is a file, not a folder`, { hint });
      }
      return;
    }
    if (!st.isDirectory()) {
      throw new MqbakError(access === 'read' ? 'not-found' : 'usage', `${this.where()} is a file, not a folder`, { hint });
    }
  }

  async close(): Promise<void> {}
}

/** The first path on the way to `p` that is a file (what ENOTDIR complains about). */
async function fileOnPath(p: string): Promise<string> {
  const parts: string[] = [];
  for (let d = p; d !== path.dirname(d); d = path.dirname(d)) parts.unshift(d);
  for (const d of parts) {
    try {
      if (!(await fs.stat(d)).isDirectory()) return d;
    } catch {
      break;
    }
  }
  return p;
}
