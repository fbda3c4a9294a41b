/**
 * Opening a store from its location: a folder, file:///path or s3://bucket/prefix. The S3 code
 * (and the AWS SDK) is loaded only for an s3:// store.
 */
import { MqbakError } from '../common/errors.js';
import type { S3Config } from './s3-config.js';
import type { Store } from './store.js';

export type { S3Config } from './s3-config.js';

export interface StoreLocation {
  kind: 'local' | 's3';
  /** Folder path (local) or bucket (s3). */
  path: string;
  /** Key prefix inside the bucket, without leading or trailing '/'. */
  prefix: string;
}

/** Parses a folder path, file:///path or s3://bucket/prefix. */
export function parseStoreUrl(url: string): StoreLocation {
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? '' : rest.slice(slash + 1).replace(/^\/+|\/+$/g, '');
    if (!bucket) throw new MqbakError('usage', `store ${url}: no bucket name`, { hint: 'use s3://bucket/prefix' });
    return { kind: 's3', path: bucket, prefix };
  }
  if (url.startsWith('file://')) {
    const path = decodeURIComponent(new URL(url).pathname);
    return { kind: 'local', path, prefix: '' };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new MqbakError('usage', `store ${url}: unknown scheme`, { hint: 'a store is a folder, file:///path or s3://bucket/prefix' });
  }
  if (url.length === 0) throw new MqbakError('usage', 'store: empty path');
  return { kind: 'local', path: url, prefix: '' };
}

/** Opens a store; the S3 client is loaded only when an s3:// store is used. */
export async function openStore(url: string, s3: S3Config = {}): Promise<Store> {
  const loc = parseStoreUrl(url);
  if (loc.kind === 's3') {
    const { openS3Store } = await import('./s3.js');
    return openS3Store(loc.path, loc.prefix, s3);
  }
  const { LocalStore } = await import('./local.js');
  return new LocalStore(loc.path);
}
