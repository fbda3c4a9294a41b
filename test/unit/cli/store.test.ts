import { describe, expect, it } from 'vitest';
import { checkS3Settings, s3ConfigFrom } from '../../../src/cli/store.js';

describe('S3 settings', () => {
  it('options win over MQBAK_* variables, which win over the AWS SDK variables', () => {
    const env = { MQBAK_S3_ENDPOINT: 'http://env:9000', AWS_ENDPOINT_URL_S3: 'http://aws:9000', MQBAK_S3_PATH_STYLE: '1', AWS_REGION: 'eu-west-1' };
    expect(s3ConfigFrom({ s3Endpoint: 'http://opt:9000' }, env)).toMatchObject({ endpoint: 'http://opt:9000', forcePathStyle: true, region: 'eu-west-1' });
    expect(s3ConfigFrom({}, env).endpoint).toBe('http://env:9000');
    expect(s3ConfigFrom({}, { AWS_ENDPOINT_URL_S3: 'http://aws:9000' }).endpoint).toBe('http://aws:9000');
  });
  it('takes the checksum mode from the option, MQBAK_S3_CHECKSUM or AWS_REQUEST_CHECKSUM_CALCULATION', () => {
    expect(s3ConfigFrom({ s3Checksum: 'when-required' }, {}).checksum).toBe('when-required');
    expect(s3ConfigFrom({}, { MQBAK_S3_CHECKSUM: 'when-supported' }).checksum).toBe('when-supported');
    expect(s3ConfigFrom({}, { AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED' }).checksum).toBe('when-required');
    expect(() => s3ConfigFrom({ s3Checksum: 'sometimes' }, {})).toThrow(/when-required or when-supported/);
  });
  it('MQBAK_S3_CONTENT_MD5=1 puts Content-MD5 on every upload; otherwise the store decides', () => {
    expect(s3ConfigFrom({}, { MQBAK_S3_CONTENT_MD5: '1' }).contentMd5).toBe(true);
    expect(s3ConfigFrom({}, { MQBAK_S3_CONTENT_MD5: 'true' }).contentMd5).toBe(true);
    expect(s3ConfigFrom({}, {}).contentMd5).toBeUndefined();
    expect(s3ConfigFrom({}, { MQBAK_S3_CONTENT_MD5: '0' }).contentMd5).toBeUndefined();
  });
  it('an s3:// store\'s region and endpoint are checked before the SDK sends anything', () => {
    expect(() => checkS3Settings({ region: 'eu-west-1', endpoint: 'https://s3.example:9000' })).not.toThrow();
    expect(() => checkS3Settings({ region: 'default' })).not.toThrow();
    expect(() => checkS3Settings({ region: 'eu west' })).toThrow(/S3 region "eu west": expected a name such as eu-west-1/);
    expect(() => checkS3Settings({ region: '-x' })).toThrow(/S3 region/);
    expect(() => checkS3Settings({ endpoint: 'localhost:9000' })).toThrow(/S3 endpoint "localhost:9000": expected an http/);
    expect(() => checkS3Settings({ endpoint: 'ftp://h' })).toThrow(/expected an http/);
    expect(() => checkS3Settings({ endpoint: 'not a url' })).toThrow(/expected an http/);
  });
});
