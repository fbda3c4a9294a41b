import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachCopies, copiesOf, SegmentCopies } from '../../../src/core/restore-copies.js';
import type { Store } from '../../../src/stores/store.js';

let parent: string;

beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'mqbak-copies-test-'));
});

afterEach(async () => {
  await rm(parent, { recursive: true, force: true });
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** Waits (up to 5 s) for `path` to be removed. */
async function gone(path: string): Promise<void> {
  for (let i = 0; i < 100 && (await exists(path)); i++) await new Promise((r) => setTimeout(r, 50));
  expect(await exists(path)).toBe(false);
}

describe('SegmentCopies', () => {
  it('gives back each copy once, then removes it, and its folder after the last', async () => {
    const copies = (await SegmentCopies.create(2000, parent, 0))!;
    expect(copies).not.toBeNull();
    expect(copies.dir.startsWith(join(parent, 'mqbak-restore-'))).toBe(true);
    // keep settles once the copy is on disk
    await copies.keep('s/0', new Uint8Array(1000).fill(1));
    expect(await readdir(copies.dir)).toHaveLength(1);
    await copies.keep('s/1', new Uint8Array(1001).fill(2).subarray(1));
    expect(copies.has('s/0')).toBe(true);
    expect(copies.has('s/2')).toBe(false);
    expect(await copies.take('s/2')).toBeNull();
    expect(await copies.take('s/0')).toEqual(new Uint8Array(1000).fill(1));
    expect(copies.has('s/0')).toBe(false);
    expect(await copies.take('s/0')).toBeNull();
    expect(await readdir(copies.dir)).toHaveLength(1);
    expect(await copies.take('s/1')).toEqual(new Uint8Array(1000).fill(2));
    expect(await exists(copies.dir)).toBe(false);
  });

  it('is not made without room for the copies and the reserve', async () => {
    expect(await SegmentCopies.create(0, parent, Number.MAX_SAFE_INTEGER)).toBeNull();
    expect(await SegmentCopies.create(0, join(parent, 'missing'), 0)).toBeNull();
  });

  it('a copy that cannot be written or read is none: the caller reads the store', async () => {
    const copies = (await SegmentCopies.create(10, parent, 0))!;
    copies.keep('a', new Uint8Array(5));
    copies.keep('b', new Uint8Array(5).fill(9));
    // the folder is gone under it
    await rm(copies.dir, { recursive: true, force: true });
    expect(await copies.take('a')).toBeNull();
    expect(await copies.take('b')).toBeNull();
  });

  it('drop and dispose remove the files', async () => {
    const copies = (await SegmentCopies.create(10, parent, 0))!;
    copies.keep('a', new Uint8Array(5));
    copies.keep('b', new Uint8Array(5));
    copies.drop('a');
    expect(copies.has('a')).toBe(false);
    await copies.dispose();
    expect(await exists(copies.dir)).toBe(false);
    expect(copies.has('b')).toBe(false);
    // nothing is kept once disposed
    copies.keep('c', new Uint8Array(1));
    expect(copies.has('c')).toBe(false);
  });

  it('attachCopies: one set of copies per store; a new one replaces and removes the old', async () => {
    const store = {} as Store;
    expect(copiesOf(store)).toBeNull();
    const first = (await SegmentCopies.create(10, parent, 0))!;
    first.keep('a', new Uint8Array(5));
    attachCopies(store, first);
    expect(copiesOf(store)).toBe(first);
    const second = (await SegmentCopies.create(10, parent, 0))!;
    attachCopies(store, second);
    expect(copiesOf(store)).toBe(second);
    await gone(first.dir);
    await second.dispose();
  });
});
