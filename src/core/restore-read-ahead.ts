/**
 * A restore's write pass reads each stream's segments in order (backup-reader.ts), and from a
 * remote store every read waited for a whole download while nothing was decoded or published.
 * readingAhead gives the reader a view of the store that, once a segment of the list has
 * arrived, starts reading the next one, so that its download overlaps the decoding and
 * publishing of the one before. One segment ahead at most, and only while memory allows
 * (READ_AHEAD_BUDGET): a stream holds at most two segments at a time, whatever the size of the
 * backup, and several streams together only as many as fit. Every segment is still checked
 * (size, SHA-256, blocks, records) by the reader when its turn comes, read ahead or not. A local folder's reads cost
 * little next to decoding and publishing: they are not read ahead (Store.remote), which would only
 * add a segment per stream to the memory a restore holds. A segment of which the preflight left a
 * local copy (restore-copies.ts) is read from that copy, and not read ahead either.
 */
import { attachMasterKey, masterKeyOf } from '../archive/encryption/store-key.js';
import type { ByteRange, Store } from '../stores/store.js';
import { copiesOf } from './restore-copies.js';

/**
 * The bytes of buffers (Node's arrayBuffers: segments, blocks, requests, socket reads) under which
 * a read ahead of one more segment may start. A restore from a remote store of several streams at
 * once keeps the machine busy while one stream waits for its download (the others decode and
 * publish); what a read ahead buys there is small (measured: docs/S3.md), and what it costs is a
 * segment per stream. With one stream, or small segments, there is room, and it reads ahead.
 */
export const READ_AHEAD_BUDGET = 48 * 1024 * 1024;

/** Whether reading `size` more bytes ahead keeps the process's buffers within READ_AHEAD_BUDGET. */
export function memoryAllows(size: number): boolean {
  return process.memoryUsage().arrayBuffers + size <= READ_AHEAD_BUDGET;
}

/**
 * `store`, with whole-object reads of `keys` (in that order) one ahead when `room` says the next
 * one fits (it is given the size of the segment just read, as the next one's likely size); every
 * other call, and a key read out of turn, go to `store` as they are. A key of which the preflight
 * left a local copy (copiesOf) is read from that copy when its turn comes (from `store` when the
 * copy cannot be read), and is never read ahead. A read ahead that fails
 * fails the get that asks for that key, when it does; one never asked for (the reader stopped) is
 * left to settle.
 */
export function readingAhead(store: Store, keys: readonly string[], signal?: AbortSignal, room: (size: number) => boolean = memoryAllows): Store {
  const next = new Map<string, number>();
  keys.forEach((k, i) => next.set(k, i + 1));
  const ahead = new Map<string, Promise<Uint8Array>>();
  const copies = copiesOf(store);
  const start = (key: string): Promise<Uint8Array> => {
    const p = store.get(key, { signal });
    p.catch(() => {}); // surfaces in the get that takes it
    return p;
  };
  return withGet(store, async (key: string, options?: { range?: ByteRange; signal?: AbortSignal }): Promise<Uint8Array> => {
    const i = next.get(key);
    if (options?.range !== undefined || i === undefined) return store.get(key, options);
    const taken = ahead.get(key);
    ahead.delete(key);
    const bytes = taken !== undefined ? await taken : ((await copies?.take(key)) ?? (await store.get(key, options)));
    // the next one's download overlaps this one's decoding; none is started once stopped, nor
    // when memory does not allow it (the next get then reads it when asked), nor for a local copy
    const after = keys[i];
    if (after !== undefined && !ahead.has(after) && !(copies?.has(after) ?? false) && !(signal?.aborted ?? false) && room(bytes.length)) ahead.set(after, start(after));
    return bytes;
  });
}

/**
 * A view of `store` whose whole-object and range reads go through `get`; every other call goes to
 * `store` as it is, closing stays the caller's, and an encrypted store's key goes with it.
 */
export function withGet(store: Store, get: Store['get']): Store {
  const view: Store = {
    description: store.description,
    remote: store.remote,
    get,
    put: (key, body, options) => store.put(key, body, options),
    stat: (key, options) => store.stat(key, options),
    list: (prefix, options) => store.list(prefix, options),
    delete: (key, options) => store.delete(key, options),
    check: (access, options) => store.check(access, options),
    // the store is the caller's: closing it stays the caller's
    close: async () => {},
  };
  // an encrypted store's key goes with it (encryption/store-key.ts)
  const key = masterKeyOf(store);
  if (key !== null) attachMasterKey(view, key);
  return view;
}
