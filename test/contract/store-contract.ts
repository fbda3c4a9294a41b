/**
 * The suite every Store implementation must pass (restic-style: one generic backend test).
 * Usage from a test file:
 *   storeContract('local', async () => ({ store: new LocalStore(dir), cleanup: () => rm(dir) }));
 * Each test gets a fresh store from `make`, so stores may share a bucket with a unique prefix.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isMqbakError } from '../../src/common/errors.js';
import { StoreNotFoundError, type ObjectInfo, type Store } from '../../src/stores/store.js';
import { pseudoRandomBytes } from '../helpers/random.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

async function collect(it: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const out: ObjectInfo[] = [];
  for await (const o of it) out.push(o);
  return out;
}

async function errorOf(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the promise to reject');
}


export interface StoreContractOptions {
  /**
   * Whether concurrent puts of the same key must leave exactly one winner. True for the local
   * store (link(2) is atomic); an S3 server without conditional writes (s3rver ignores
   * If-None-Match) can only check before it writes.
   */
  atomicWriteOnce?: boolean;
}

export function storeContract(
  name: string,
  make: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
  options: StoreContractOptions = {},
): void {
  const atomicWriteOnce = options.atomicWriteOnce ?? true;
  describe(`Store contract: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      const made = await make();
      store = made.store;
      cleanup = made.cleanup;
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    it('has a description', () => {
      expect(typeof store.description).toBe('string');
      expect(store.description.length).toBeGreaterThan(0);
    });

    it('puts and gets an object, and put returns its key and size', async () => {
      const info = await store.put('a/b/c.bin', enc('hello world'));
      expect(info).toMatchObject({ key: 'a/b/c.bin', size: 11 });
      expect(Buffer.from(await store.get('a/b/c.bin')).toString()).toBe('hello world');
    });

    it('says when an object was written: put, stat and list give a modified time within a minute of now', async () => {
      const near = (t: number | null) => t !== null && Math.abs(t - Date.now()) < 60_000;
      const put = await store.put('m/x', enc('x'));
      expect(near(put.modified), `put: ${put.modified}`).toBe(true);
      const st = await store.stat('m/x');
      expect(near(st!.modified), `stat: ${st!.modified}`).toBe(true);
      const [listed] = await collect(store.list('m/'));
      expect(near(listed!.modified), `list: ${listed!.modified}`).toBe(true);
    });

    it('is write-once: a second put of the same key fails with code exists and keeps the first body', async () => {
      await store.put('once/x', enc('first'));
      const e = await errorOf(store.put('once/x', enc('second, longer')));
      expect(isMqbakError(e)).toBe(true);
      expect((e as { code: string }).code).toBe('exists');
      expect(Buffer.from(await store.get('once/x')).toString()).toBe('first');
      expect(await store.stat('once/x')).toMatchObject({ key: 'once/x', size: 5 });
    });

    it('keeps binary bodies byte for byte, including a large one', async () => {
      const all = new Uint8Array(256);
      for (let i = 0; i < 256; i++) all[i] = i;
      await store.put('bin/all', all);
      expect(Buffer.from(await store.get('bin/all')).equals(Buffer.from(all))).toBe(true);
      const big = pseudoRandomBytes(3 * 1024 * 1024 + 17, 7);
      await store.put('bin/big', big);
      const back = await store.get('bin/big');
      expect(back.length).toBe(big.length);
      expect(Buffer.from(back).equals(Buffer.from(big))).toBe(true);
    });

    it('stores a body given as parts as one object, the parts one after the other', async () => {
      // as a backup hands over a segment: chunks of 1 MiB, the last one shorter, from one buffer
      const whole = pseudoRandomBytes(2 * 1024 * 1024 + 4099, 11);
      const parts = [whole.subarray(0, 1 << 20), whole.subarray(1 << 20, 2 << 20), new Uint8Array(0), whole.subarray(2 << 20)];
      expect(await store.put('parts/seg', parts)).toMatchObject({ key: 'parts/seg', size: whole.length });
      const back = await store.get('parts/seg');
      expect(back.length).toBe(whole.length);
      expect(Buffer.from(back).equals(Buffer.from(whole))).toBe(true);
      expect(await store.stat('parts/seg')).toMatchObject({ key: 'parts/seg', size: whole.length });
      expect(Buffer.from(await store.get('parts/seg', { range: { start: (1 << 20) - 3, end: (1 << 20) + 3 } })).equals(Buffer.from(whole.subarray((1 << 20) - 3, (1 << 20) + 3)))).toBe(true);
      // a small one, and no parts at all
      expect(await store.put('parts/small', [enc('ab'), enc('c')])).toMatchObject({ key: 'parts/small', size: 3 });
      expect(new TextDecoder().decode(await store.get('parts/small'))).toBe('abc');
      expect(await store.put('parts/none', [])).toMatchObject({ key: 'parts/none', size: 0 });
      expect((await store.get('parts/none')).length).toBe(0);
      // write-once holds for parts as well
      expect(await errorOf(store.put('parts/small', [enc('x')]))).toMatchObject({ code: 'exists' });
      expect(new TextDecoder().decode(await store.get('parts/small'))).toBe('abc');
    });

    it('stores an empty body', async () => {
      expect(await store.put('empty', new Uint8Array(0))).toMatchObject({ key: 'empty', size: 0 });
      expect((await store.get('empty')).length).toBe(0);
      expect(await store.stat('empty')).toMatchObject({ key: 'empty', size: 0 });
      expect(await collect(store.list('empty'))).toMatchObject([{ key: 'empty', size: 0 }]);
    });

    it('gets byte ranges, including empty ranges and ranges at the edges', async () => {
      const body = enc('0123456789');
      await store.put('r/ten', body);
      const range = async (start: number, end: number) => Buffer.from(await store.get('r/ten', { range: { start, end } })).toString();
      expect(await range(0, 10)).toBe('0123456789');
      expect(await range(0, 1)).toBe('0');
      expect(await range(9, 10)).toBe('9');
      expect(await range(3, 7)).toBe('3456');
      expect(await range(0, 0)).toBe('');
      expect(await range(5, 5)).toBe('');
      expect(await range(10, 10)).toBe('');
    });

    it('gets a range of a large object', async () => {
      const big = pseudoRandomBytes(2 * 1024 * 1024, 3);
      await store.put('r/big', big);
      const part = await store.get('r/big', { range: { start: 1_000_000, end: 1_500_001 } });
      expect(Buffer.from(part).equals(Buffer.from(big.subarray(1_000_000, 1_500_001)))).toBe(true);
    });

    it('throws StoreNotFoundError (code not-found) for a missing key, also with a range', async () => {
      const e = await errorOf(store.get('missing/key'));
      expect(e).toBeInstanceOf(StoreNotFoundError);
      expect((e as StoreNotFoundError).code).toBe('not-found');
      expect((e as StoreNotFoundError).key).toBe('missing/key');
      const e2 = await errorOf(store.get('missing/key', { range: { start: 0, end: 1 } }));
      expect(e2).toBeInstanceOf(StoreNotFoundError);
    });

    it('stat returns the size, or null when missing', async () => {
      await store.put('s/one', enc('abc'));
      expect(await store.stat('s/one')).toMatchObject({ key: 's/one', size: 3 });
      expect(await store.stat('s/none')).toBeNull();
      // a "folder" that only exists as a prefix is not an object
      expect(await store.stat('s')).toBeNull();
    });

    it('lists by prefix in lexical order with sizes', async () => {
      // (no key is also the "folder" of another key: mqbak's key names never need it, and a
      // file-system store cannot hold both)
      const keys = ['b/2', 'a/1', 'b/10', 'b/1', 'c', 'b/1x/y', 'ba', 'b-1', 'b0'];
      for (const k of keys) await store.put(k, enc(k));
      const all = await collect(store.list(''));
      expect(all.map((o) => o.key)).toEqual([...keys].sort());
      for (const o of all) expect(o.size).toBe(enc(o.key).length);
      expect((await collect(store.list('b/'))).map((o) => o.key)).toEqual(['b/1', 'b/10', 'b/1x/y', 'b/2']);
      // a prefix is a string prefix, not a folder: 'b' also matches 'b-1', 'b0', 'ba'
      expect((await collect(store.list('b'))).map((o) => o.key)).toEqual(['b-1', 'b/1', 'b/10', 'b/1x/y', 'b/2', 'b0', 'ba']);
      expect((await collect(store.list('b/1'))).map((o) => o.key)).toEqual(['b/1', 'b/10', 'b/1x/y']);
      expect((await collect(store.list('b/1x/'))).map((o) => o.key)).toEqual(['b/1x/y']);
      expect((await collect(store.list('b/1x/y'))).map((o) => o.key)).toEqual(['b/1x/y']);
      expect(await collect(store.list('nothing/'))).toEqual([]);
    });

    it('lists nested prefixes and many keys in order', async () => {
      const keys: string[] = [];
      for (let s = 0; s < 3; s++) for (let i = 0; i < 400; i++) keys.push(`backups/x/segments/${s}/${String(i).padStart(12, '0')}.seg`);
      keys.push('backups/x/manifest.json', 'backups/y/manifest.json');
      // put in a scrambled order, a few at a time
      const scrambled = [...keys].sort((a, b) => (hash(a) - hash(b)) || (a < b ? -1 : 1));
      for (let i = 0; i < scrambled.length; i += 50) await Promise.all(scrambled.slice(i, i + 50).map((k) => store.put(k, enc('.'))));
      const listed = (await collect(store.list('backups/'))).map((o) => o.key);
      expect(listed).toEqual([...keys].sort());
      const seg1 = (await collect(store.list('backups/x/segments/1/'))).map((o) => o.key);
      expect(seg1.length).toBe(400);
      expect(seg1[0]).toBe('backups/x/segments/1/000000000000.seg');
      expect(seg1[399]).toBe('backups/x/segments/1/000000000399.seg');
    });

    it('lists keys in byte order where the characters sort differently from folders', async () => {
      // '/' (0x2f) sorts after '.' and '-' but before digits and letters; a folder walk must still
      // give plain byte order
      const keys = ['p/a.b', 'p/a/b', 'p/a-b', 'p/a0', 'p/aZ', 'p/a_', 'p/a/c/d', 'p/a+'];
      for (const k of keys) await store.put(k, enc('1'));
      expect((await collect(store.list('p/'))).map((o) => o.key)).toEqual([...keys].sort());
    });

    it('delete removes an object and is idempotent', async () => {
      await store.put('d/x', enc('x'));
      await store.put('d/y', enc('y'));
      await store.delete('d/x');
      expect(await store.stat('d/x')).toBeNull();
      await expect(store.get('d/x')).rejects.toBeInstanceOf(StoreNotFoundError);
      await store.delete('d/x');
      await store.delete('d/never-existed');
      expect((await collect(store.list('d/'))).map((o) => o.key)).toEqual(['d/y']);
      // after delete the key can be written again
      await store.put('d/x', enc('again'));
      expect(Buffer.from(await store.get('d/x')).toString()).toBe('again');
    });

    it('takes concurrent puts of different keys', async () => {
      const n = 40;
      await Promise.all(Array.from({ length: n }, (_, i) => store.put(`c/${String(i).padStart(3, '0')}`, pseudoRandomBytes(1000 + i, i + 1))));
      const listed = await collect(store.list('c/'));
      expect(listed.length).toBe(n);
      for (let i = 0; i < n; i++) {
        const back = await store.get(`c/${String(i).padStart(3, '0')}`);
        expect(Buffer.from(back).equals(Buffer.from(pseudoRandomBytes(1000 + i, i + 1)))).toBe(true);
      }
    });

    it.runIf(atomicWriteOnce)('concurrent puts of the same key: exactly one wins', async () => {
      const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.put('same/key', enc(`body-${i}`))));
      const ok = results.filter((r) => r.status === 'fulfilled');
      expect(ok.length).toBe(1);
      for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('exists');
      const body = Buffer.from(await store.get('same/key')).toString();
      expect(body).toMatch(/^body-[0-4]$/);
    });

    it('honours an aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      await expect(store.put('abort/x', enc('x'), { signal: ac.signal })).rejects.toBeTruthy();
      expect(await store.stat('abort/x')).toBeNull();
    });
  });
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
