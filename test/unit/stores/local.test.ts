import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStore } from '../../../src/stores/local.js';
import { openStore } from '../../../src/stores/open.js';
import { storeContract } from '../../contract/store-contract.js';

storeContract('local', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
  return { store: new LocalStore(dir), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

storeContract('local, root folder not created yet', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
  return { store: new LocalStore(join(dir, 'not', 'yet')), cleanup: () => rm(dir, { recursive: true, force: true }) };
});

describe('LocalStore specifics', () => {
  it('refuses keys that would leave the folder', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
    const store = new LocalStore(join(dir, 'root'));
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/.', '', 'a\\b', '.mqbak-tmp-1']) {
      await expect(store.put(key, new Uint8Array(1)), key).rejects.toThrow(/key/);
      await expect(store.get(key), key).rejects.toThrow(/key/);
    }
    expect(await readdir(dir)).toEqual([]);
    await rm(dir, { recursive: true });
  });

  it('leaves no temporary file behind and hides stray temporary files from list', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
    const store = new LocalStore(dir);
    await store.put('a/b', new Uint8Array([1, 2, 3]));
    expect(await readdir(join(dir, 'a'))).toEqual(['b']);
    await writeFile(join(dir, 'a', '.mqbak-tmp-deadbeef'), 'half');
    const keys: string[] = [];
    for await (const o of store.list('')) keys.push(o.key);
    expect(keys).toEqual(['a/b']);
    await rm(dir, { recursive: true });
  });

  it('a folder is not an object', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
    await mkdir(join(dir, 'f'));
    const store = new LocalStore(dir);
    expect(await store.stat('f')).toBeNull();
    await expect(store.get('f')).rejects.toMatchObject({ code: 'not-found' });
    await rm(dir, { recursive: true });
  });

  it('openStore opens a path and file:// URL as a LocalStore', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
    const a = await openStore(dir);
    await a.put('k', new Uint8Array([9]));
    const b = await openStore(`file://${dir}`);
    expect(Array.from(await b.get('k'))).toEqual([9]);
    expect(b.description).toBe(dir);
    await rm(dir, { recursive: true });
  });
});

describe('LocalStore.check', () => {
  it('read: a missing folder, a file, or a path through a file is not found; a folder passes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
    await writeFile(join(dir, 'file'), 'x');
    await expect(new LocalStore(join(dir, 'missing')).check('read')).rejects.toMatchObject({ code: 'not-found', message: `store ${join(dir, 'missing')} does not exist` });
    await expect(new LocalStore(join(dir, 'file')).check('read')).rejects.toMatchObject({ code: 'not-found', message: `store ${join(dir, 'file')} is a file, not a folder` });
    await expect(new LocalStore(join(dir, 'file', 'x')).check('read')).rejects.toMatchObject({ code: 'not-found', message: expect.stringContaining(`(${join(dir, 'file')} is a file)`) });
    await expect(new LocalStore(dir).check('read')).resolves.toBeUndefined();
    expect(await readdir(dir)).toEqual(['file']);
    await rm(dir, { recursive: true });
  });

  it('write: creates a missing folder; a file in the way is a usage error naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
    await writeFile(join(dir, 'file'), 'x');
    await new LocalStore(join(dir, 'new', 'store')).check('write');
    expect(await readdir(join(dir, 'new'))).toEqual(['store']);
    await expect(new LocalStore(join(dir, 'file')).check('write')).rejects.toMatchObject({ code: 'usage', message: `store ${join(dir, 'file')} is a file, not a folder` });
    await expect(new LocalStore(join(dir, 'file', 'x')).check('write')).rejects.toMatchObject({ code: 'usage', message: `store ${join(dir, 'file', 'x')}: ${join(dir, 'file')} is a file, not a folder` });
    await rm(dir, { recursive: true });
  });

  it('a put under a file is an environment error (exit 5) naming the file, not an internal one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-local-'));
    await writeFile(join(dir, 'segments'), 'x');
    await expect(new LocalStore(dir).put('segments/a', new Uint8Array(1))).rejects.toMatchObject({ code: 'unreachable', message: expect.stringContaining(`ENOTDIR: not a directory, mkdir '${join(dir, 'segments')}'`) });
    await rm(dir, { recursive: true });
  });
});
