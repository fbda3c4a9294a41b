import { describe, expect, it } from 'vitest';
import { asksForContentMd5, isNotFound, isNotImplemented, isPreconditionFailed, isTransient, s3Failure } from '../../../src/stores/s3-errors.js';

// errors shaped as the AWS SDK throws them: a name, and the HTTP status in $metadata
const sdkError = (name: string, status?: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status }, ...extra });

describe('what S3 failures mean', () => {
  it('tells not found, precondition failed and not implemented apart', () => {
    expect(isNotFound(sdkError('NoSuchKey', 404))).toBe(true);
    expect(isNotFound(sdkError('NotFound', 404))).toBe(true);
    expect(isNotFound(sdkError('Unknown', 404))).toBe(true);
    expect(isNotFound(sdkError('NoSuchBucket', 404))).toBe(false);
    expect(isPreconditionFailed(sdkError('PreconditionFailed', 412))).toBe(true);
    expect(isNotImplemented(sdkError('NotImplemented', 501))).toBe(true);
  });

  it('tells a server that wants Content-MD5 from one that found it wrong', () => {
    // AWS S3, an upload into a bucket with Object Lock retention without Content-MD5 or a flexible checksum
    const objectLock = Object.assign(new Error('Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters'), {
      name: 'InvalidRequest',
      $metadata: { httpStatusCode: 400 },
    });
    expect(asksForContentMd5(objectLock)).toBe(true);
    expect(asksForContentMd5(sdkError('MissingContentMD5', 400))).toBe(true);
    expect(asksForContentMd5(Object.assign(new Error('The Content-MD5 you specified did not match what we received.'), { name: 'BadDigest', $metadata: { httpStatusCode: 400 } }))).toBe(false);
    expect(asksForContentMd5(sdkError('InvalidRequest', 400))).toBe(false);
    expect(asksForContentMd5(sdkError('AccessDenied', 403))).toBe(false);
  });

  it('retries 5xx, 429, throttling and dropped connections, never 501 or 4xx', () => {
    expect(isTransient(sdkError('InternalError', 500))).toBe(true);
    expect(isTransient(sdkError('SlowDown', 503))).toBe(true);
    expect(isTransient(sdkError('TooManyRequests', 429))).toBe(true);
    expect(isTransient(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransient(sdkError('NotImplemented', 501))).toBe(false);
    expect(isTransient(sdkError('AccessDenied', 403))).toBe(false);
    expect(isTransient(sdkError('NoSuchKey', 404))).toBe(false);
  });

  it('reports each kind with its code, and a hint where the user can act', () => {
    const at = 's3://b/p: put k';
    // not found (exit 10), as the exit table says, for every command: mqbak never creates a bucket
    expect(s3Failure(sdkError('NoSuchBucket', 404), at, 'b', 6, undefined)).toMatchObject({
      code: 'not-found',
      message: `${at}: bucket b does not exist`,
      hint: expect.stringMatching(/never creates buckets/),
    });
    expect(s3Failure(sdkError('AccessDenied', 403), at, 'b', 6, undefined)).toMatchObject({ code: 'unreachable', message: `${at}: access denied (AccessDenied)`, hint: expect.stringMatching(/credentials/) });
    expect(s3Failure(sdkError('CredentialsProviderError'), at, 'b', 6, undefined)).toMatchObject({ code: 'usage', hint: expect.stringMatching(/AWS_ACCESS_KEY_ID/) });
    expect(s3Failure(sdkError('BadDigest', 400), at, 'b', 6, undefined)).toMatchObject({ code: 'integrity', retriable: true });
    expect(s3Failure(sdkError('XAmzContentSHA256Mismatch', 400), at, 'b', 6, undefined)).toMatchObject({
      code: 'integrity',
      message: `${at}: the server received other bytes than were sent (XAmzContentSHA256Mismatch)`,
      retriable: true,
    });
    expect(s3Failure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), at, 'b', 6, undefined)).toMatchObject({
      code: 'unreachable',
      message: `${at}: connection failed (ECONNREFUSED) (gave up after 6 attempts)`,
      retriable: true,
    });
    const aborted = new AbortController();
    aborted.abort();
    expect(s3Failure(sdkError('InternalError', 500), at, 'b', 6, aborted.signal)).toMatchObject({ code: 'interrupted', message: `${at}: interrupted` });
    expect(s3Failure(sdkError('Weird', 400), at, 'b', 6, undefined)).toMatchObject({ code: 'unreachable', message: `${at}: Weird: Weird happened` });
  });
});
