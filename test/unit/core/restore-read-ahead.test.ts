import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachMasterKey, masterKeyOf } from '../../../src/archive/encryption/store-key.js';
import { attachCopies, SegmentCopies } from '../../../src/core/restore-copies.js';
import { memoryAllows, READ_AHEAD_BUDGET, readingAhead } from '../../../src/core/restore-read-ahead.js';
import { LocalStore } from '../../../src/stores/local.js';
import { StoreNotFoundError, type Store } from '../../../src/stores/store.js';

let dir: string;
let store: LocalStore;
/** Every get that reached the store, in order. */
let asked: string[];
let spy: Store;
/** Room for every read ahead, whatever else the test process holds. */
const always = () => true;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mqbak-read-ahead-'));
  store = new LocalStore(dir);
  for (let i = 0; i < 4; i++) await store.put(`s/${i}`, new Uint8Array(1000 + i).fill(i + 1));
  asked = [];
  spy = Object.assign(Object.create(store) as Store, {
    get: (key: string, options?: Parameters<Store['get']>[1]) => {
      asked.push(options?.range ? `${key} [${options.range.start},${options.range.end})` : key);
      return store.get(key, options);
    },
  });
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readingAhead', () => {
  it('starts reading the next key of the list once one has arrived, never more than one ahead', async () => {
    const view = readingAhead(spy, ['s/0', 's/1', 's/2', 's/3'], undefined, always);
    expect(asked).toEqual([]);
    expect(await view.get('s/0')).toEqual(new Uint8Array(1000).fill(1));
    expect(asked).toEqual(['s/0', 's/1']);
    expect(await view.get('s/1')).toEqual(new Uint8Array(1001).fill(2));
    // s/1 came from the read ahead: not read again
    expect(asked).toEqual(['s/0', 's/1', 's/2']);
    expect(await view.get('s/2')).toEqual(new Uint8Array(1002).fill(3));
    expect(await view.get('s/3')).toEqual(new Uint8Array(1003).fill(4));
    expect(asked).toEqual(['s/0', 's/1', 's/2', 's/3']);
  });

  it('reads ahead only when memory allows the next one, judged by the size of the one just read', async () => {
    const sizes: number[] = [];
    let allow = false;
    const view = readingAhead(spy, ['s/0', 's/1', 's/2', 's/3'], undefined, (size) => {
      sizes.push(size);
      return allow;
    });
    expect(await view.get('s/0')).toHaveLength(1000);
    // no room: nothing read ahead; s/1 is read when asked
    expect(asked).toEqual(['s/0']);
    allow = true;
    expect(await view.get('s/1')).toHaveLength(1001);
    expect(asked).toEqual(['s/0', 's/1', 's/2']);
    expect(await view.get('s/2')).toHaveLength(1002);
    expect(await view.get('s/3')).toHaveLength(1003);
    expect(asked).toEqual(['s/0', 's/1', 's/2', 's/3']);
    // asked after each get with a key after it
    expect(sizes).toEqual([1000, 1001, 1002]);
  });

  it("memory allows a read ahead while the process's buffers and the next segment fit the budget", () => {
    expect(memoryAllows(READ_AHEAD_BUDGET + 1)).toBe(false);
    const held = new Uint8Array(READ_AHEAD_BUDGET);
    expect(memoryAllows(0)).toBe(false);
    held[0] = 1;
  });

  it('reads a key out of turn, a range or a key not in the list from the store as asked', async () => {
    const view = readingAhead(spy, ['s/0', 's/1']);
    expect(await view.get('s/2')).toHaveLength(1002);
    expect(await view.get('s/0', { range: { start: 10, end: 20 } })).toEqual(new Uint8Array(10).fill(1));
    expect(asked).toEqual(['s/2', 's/0 [10,20)']);
    // the last of the list: nothing after it to read
    expect(await view.get('s/1')).toHaveLength(1001);
    expect(asked).toEqual(['s/2', 's/0 [10,20)', 's/1']);
    expect(await view.stat('s/3')).toMatchObject({ key: 's/3', size: 1003 });
  });

  it('fails the get of a key whose read ahead failed, when it is asked for', async () => {
    const view = readingAhead(spy, ['s/0', 'gone', 's/1'], undefined, always);
    await view.get('s/0');
    expect(asked).toEqual(['s/0', 'gone']);
    await expect(view.get('gone')).rejects.toBeInstanceOf(StoreNotFoundError);
  });

  it('reads a changed object as it is when its turn comes, after the change', async () => {
    // the reader checks what it gets against the manifest: the view hands on what the store holds
    const view = readingAhead(spy, ['s/0', 's/1']);
    expect(await view.get('s/1')).toEqual(new Uint8Array(1001).fill(2));
    await store.delete('s/0');
    await store.put('s/0', new Uint8Array(5).fill(9));
    expect(await view.get('s/0')).toEqual(new Uint8Array(5).fill(9));
  });

  it('starts nothing once the signal is aborted', async () => {
    const stop = new AbortController();
    const view = readingAhead(spy, ['s/0', 's/1'], stop.signal, always);
    stop.abort();
    await expect(view.get('s/0', { signal: stop.signal })).rejects.toMatchObject({ code: 'interrupted' });
    // a get already on its way when the signal came: its bytes, and no read ahead after it
    expect(await view.get('s/0')).toHaveLength(1000);
    expect(asked).toEqual(['s/0', 's/0']);
  });

  it("reads a key of which the preflight left a local copy from the copy, once, and never reads it ahead", async () => {
    const copies = (await SegmentCopies.create(0, dir, 0))!;
    copies.keep('s/1', new Uint8Array(7).fill(5));
    copies.keep('s/3', new Uint8Array(8).fill(6));
    attachCopies(spy, copies);
    const view = readingAhead(spy, ['s/0', 's/1', 's/2', 's/3'], undefined, always);
    expect(await view.get('s/0')).toHaveLength(1000);
    // s/1 has a copy: not read ahead
    expect(asked).toEqual(['s/0']);
    expect(await view.get('s/1')).toEqual(new Uint8Array(7).fill(5));
    expect(asked).toEqual(['s/0', 's/2']);
    expect(await view.get('s/2')).toHaveLength(1002);
    expect(await view.get('s/3')).toEqual(new Uint8Array(8).fill(6));
    expect(asked).toEqual(['s/0', 's/2']);
    // a copy is read once: asked again, the key comes from the store (and s/2, without a copy, is read ahead)
    expect(await view.get('s/1')).toHaveLength(1001);
    expect(asked).toEqual(['s/0', 's/2', 's/1', 's/2']);
  });

  it("carries an encrypted store's key", () => {
    expect(masterKeyOf(readingAhead(store, []))).toBeNull();
    attachMasterKey(store, new Uint8Array(32).fill(7));
    expect(masterKeyOf(readingAhead(store, []))).toEqual(Buffer.alloc(32, 7));
  });
});

describe('Store.remote', () => {
  it('is false for a local folder, and the read-ahead view says what its store says', () => {
    expect(store.remote).toBe(false);
    expect(readingAhead(store, []).remote).toBe(false);
    expect(readingAhead({ ...store, remote: true } as Store, []).remote).toBe(true);
  });
});
