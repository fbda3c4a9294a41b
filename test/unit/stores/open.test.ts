import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../src/common/errors.js';
import { parseStoreUrl } from '../../../src/stores/open.js';

describe('store URLs', () => {
  it('parses folders, file:// and s3://bucket/prefix', () => {
    expect(parseStoreUrl('./backups')).toEqual({ kind: 'local', path: './backups', prefix: '' });
    expect(parseStoreUrl('file:///var/backups/mq%20x')).toEqual({ kind: 'local', path: '/var/backups/mq x', prefix: '' });
    expect(parseStoreUrl('s3://ops/mq/nightly/')).toEqual({ kind: 's3', path: 'ops', prefix: 'mq/nightly' });
    expect(parseStoreUrl('s3://ops')).toEqual({ kind: 's3', path: 'ops', prefix: '' });
  });
  it('refuses unknown schemes and an empty bucket with a usage error', () => {
    expect(() => parseStoreUrl('ftp://x/y')).toThrow(MqbakError);
    try {
      parseStoreUrl('s3:///prefix');
      expect.unreachable();
    } catch (e) {
      expect((e as MqbakError).code).toBe('usage');
    }
  });
});
