import { MqbakError } from '../common/errors.js';

/**
 * Where archives live. Small on purpose (after restic's backends): every store passes the same
 * contract suite (test/contract/store-contract.ts). Keys are '/'-separated, never start with '/',
 * and list in plain byte (lexical) order. A key is never also the "folder" of another key (`a`
 * and `a/b`): mqbak's key names (src/archive/keys.ts) never need it and a folder cannot hold both.
 */
export interface Store {
  /** For messages and manifests: never contains credentials. */
  readonly description: string;
  /**
   * Whether each read is a download over a network (S3), slow enough next to decoding that a
   * restore overlaps the next segment's read with the current one's work. A local folder: false.
   */
  readonly remote: boolean;
  /**
   * Writes an object once. Fails with code 'exists' if the key is already there. When it
   * returns, the object is durable (fsynced and renamed, or uploaded and its size checked).
   * The body may come as parts, stored one after the other as one object; the store reads them
   * only until the returned promise settles (the caller may reuse their memory afterwards).
   * `sha256`, when the caller has it: the hex SHA-256 of exactly the body, which a store may use
   * instead of hashing the body again (S3 signs the upload with it, and servers check it).
   */
  put(key: string, body: Uint8Array | readonly Uint8Array[], options?: { signal?: AbortSignal; sha256?: string }): Promise<ObjectInfo>;
  /** Reads an object, or the bytes [start, end) of it. Missing key: StoreNotFoundError. */
  get(key: string, options?: { range?: ByteRange; signal?: AbortSignal }): Promise<Uint8Array>;
  /** Size of an object, or null when it does not exist. */
  stat(key: string, options?: { signal?: AbortSignal }): Promise<ObjectInfo | null>;
  /** Objects whose key starts with `prefix`, in lexical key order. */
  list(prefix: string, options?: { signal?: AbortSignal }): AsyncIterable<ObjectInfo>;
  /** Removes an object; removing a missing one is not an error. */
  delete(key: string, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Whether the store itself is there, before a command does any work: a folder path that does
   * not exist or is a file, or a bucket that does not exist, is 'not-found' for `read`. For
   * `write` a missing folder is created (a bucket never is: still 'not-found'), and a file where
   * the folder should be is 'usage'. Failures of the file system or the server are 'unreachable'.
   */
  check(access: StoreAccess, options?: { signal?: AbortSignal }): Promise<void>;
  /** Releases connections; the store is unusable afterwards. */
  close(): Promise<void>;
}

/** What a command is about to do with a store (Store.check). */
export type StoreAccess = 'read' | 'write';

export interface ObjectInfo {
  key: string;
  size: number;
  /** When the object was written, in ms since the epoch (file mtime, S3 LastModified); null when the store cannot tell. */
  modified: number | null;
}

/** Half-open byte range: `end` is exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export class StoreNotFoundError extends MqbakError {
  readonly key: string;
  constructor(key: string, where: string) {
    super('not-found', `${where}: no object ${key}`);
    this.key = key;
  }
}
