/**
 * What the local store's file-system failures become (src/stores/local-fs.ts): every errno is an
 * environment problem (exit 5) with the path and the cause, never an internal error (exit 1).
 * ENOSPC, EROFS and EACCES are also produced for real in test/e2e/store-errors.test.ts; EDQUOT and
 * EIO cannot be made on this machine, so their mapping is checked here on errors shaped as Node's.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fsError, makeFolders } from '../../../src/stores/local-fs.js';

const errno = (code: string, message: string, path?: string) => Object.assign(new Error(message), { code, ...(path === undefined ? {} : { path }) });

describe('fsError', () => {
  it.each([
    ['ENOSPC', 'ENOSPC: no space left on device, write', /free space/],
    ['EDQUOT', 'EDQUOT: disk quota exceeded, write', /quota/],
    ['EROFS', 'EROFS: read-only file system, open', /read-only/],
    ['EACCES', 'EACCES: permission denied, open', /permissions/],
    ['ENOTDIR', 'ENOTDIR: not a directory, open', /file stands where/],
    ['EIO', 'EIO: i/o error, read', /input\/output/],
  ])('%s is exit 5 (unreachable) with the path, the cause and a hint', (code, message, hint) => {
    const e = fsError(errno(code, message), 'store /b: write k', '/b/k');
    expect(e.code).toBe('unreachable');
    expect(e.message).toBe(`store /b: write k (/b/k): ${message}`);
    expect(e.hint).toMatch(hint);
  });

  it('does not name the path twice when the system message names it', () => {
    const e = fsError(errno('EROFS', "EROFS: read-only file system, mkdir '/b/locks'", '/b/locks'), 'store /b: create folder', '/b/locks');
    expect(e.message).toBe("store /b: create folder: EROFS: read-only file system, mkdir '/b/locks'");
  });

  it('an error without an errno code stays internal (a bug)', () => {
    expect(fsError(new TypeError('x is undefined'), 'store /b: write k', '/b/k').code).toBe('internal');
  });
});

describe('makeFolders', () => {
  it('creates the missing folders and returns the first one created', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-mkdir-'));
    expect(await makeFolders(join(dir, 'a', 'b', 'c'))).toBe(join(dir, 'a'));
    expect((await stat(join(dir, 'a', 'b', 'c'))).isDirectory()).toBe(true);
    expect(await makeFolders(join(dir, 'a', 'b'))).toBeUndefined();
    await rm(dir, { recursive: true });
  });

  it('a file on the way is ENOTDIR naming that file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-mkdir-'));
    await writeFile(join(dir, 'f'), 'x');
    await expect(makeFolders(join(dir, 'f', 'g'))).rejects.toMatchObject({ code: 'ENOTDIR', path: join(dir, 'f') });
    await rm(dir, { recursive: true });
  });
});
