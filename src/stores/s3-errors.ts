/**
 * What an S3 SDK or network error means to mqbak: not found, transient (retried), a server
 * that does not implement a header, and the MqbakError (code, message, hint) it is reported as.
 */
import { MqbakError, messageOf } from '../common/errors.js';

export function nameOf(e: unknown): string {
  return typeof e === 'object' && e !== null && 'name' in e ? String((e as { name: unknown }).name) : '';
}

export function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

export function isNotFound(e: unknown): boolean {
  const name = nameOf(e);
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(e) === 404 && name !== 'NoSuchBucket');
}

/** 501: a server that does not implement a header it was sent (If-None-Match, on some). */
export function isNotImplemented(e: unknown): boolean {
  return statusOf(e) === 501 || nameOf(e) === 'NotImplemented';
}

/**
 * A server that wants Content-MD5 on an upload sent without it: AWS S3 into a bucket with Object
 * Lock retention (400 InvalidRequest, "Content-MD5 OR x-amz-checksum- HTTP header is required"),
 * MissingContentMD5 elsewhere. Nothing was stored; the upload may be sent again with it.
 */
export function asksForContentMd5(e: unknown): boolean {
  const name = nameOf(e);
  if (name === 'MissingContentMD5') return true;
  if (statusOf(e) !== 400 || name === 'BadDigest' || name === 'InvalidDigest') return false;
  return /content-md5/i.test(messageOf(e));
}

/** A write-once refusal: If-None-Match '*' found the object there. */
export function isPreconditionFailed(e: unknown): boolean {
  return statusOf(e) === 412 || nameOf(e) === 'PreconditionFailed';
}

export function isTransient(e: unknown): boolean {
  if (isNotImplemented(e)) return false;
  const status = statusOf(e);
  const code = (e as { code?: string }).code ?? '';
  return (
    (status !== undefined && (status >= 500 || status === 429)) ||
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_SOCKET)$/.test(code) ||
    ['SlowDown', 'Throttling', 'ThrottlingException', 'RequestTimeout', 'TimeoutError', 'ServiceUnavailable', 'InternalError'].includes(
      nameOf(e),
    )
  );
}

function describeTransient(e: unknown): string {
  const code = (e as { code?: string }).code;
  if (code) return `connection failed (${code})`;
  const status = statusOf(e);
  if (status) return `server answered HTTP ${status} (${nameOf(e)})`;
  return messageOf(e);
}

/**
 * Turns an SDK or network error into an MqbakError with the exit status it deserves. `where`
 * starts the message ("s3://b/p: put k"); `attempts` is how many were made of a transient one.
 */
export function s3Failure(e: unknown, where: string, bucket: string, attempts: number, signal: AbortSignal | undefined): MqbakError {
  if (signal?.aborted || nameOf(e) === 'AbortError') return new MqbakError('interrupted', `${where}: interrupted`);
  const name = nameOf(e);
  const status = statusOf(e);
  const message = messageOf(e);
  if (name === 'NoSuchBucket') {
    // not found (exit 10) for every command; backup included: mqbak never creates a bucket
    return new MqbakError('not-found', `${where}: bucket ${bucket} does not exist`, {
      cause: e,
      hint: 'check the bucket name, region and endpoint; mqbak never creates buckets: create it first, with the region, encryption and lifecycle rules it should have',
    });
  }
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new MqbakError('usage', `${where}: no AWS credentials found`, {
      cause: e,
      hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an instance role is available',
    });
  }
  if (name === 'RequestTimeTooSkewed') return clockSkew(where, e);
  if (name === 'SignatureDoesNotMatch') {
    return new MqbakError('unreachable', `${where}: access denied (SignatureDoesNotMatch): the server computes another signature for this access key`, {
      cause: e,
      hint: 'check the secret access key (AWS_SECRET_ACCESS_KEY, or the profile in use): it does not belong to this access key id',
    });
  }
  if (status === 403 || ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden'].includes(name)) {
    return new MqbakError('unreachable', `${where}: access denied (${name && name !== 'Unknown' ? name : `HTTP ${status}`})`, {
      cause: e,
      hint: 'check the credentials and that they may read and write this bucket and prefix',
    });
  }
  // BadDigest: not the Content-MD5; XAmzContentSHA256Mismatch: not the signed SHA-256 payload hash
  if (name === 'BadDigest' || name === 'InvalidDigest' || name === 'XAmzContentSHA256Mismatch') {
    return new MqbakError('integrity', `${where}: the server received other bytes than were sent (${name})`, { cause: e, retriable: true });
  }
  if (isTransient(e)) {
    return new MqbakError('unreachable', `${where}: ${describeTransient(e)} (gave up after ${attempts} attempts)`, {
      cause: e,
      retriable: true,
      hint: 'check that the S3 endpoint is up and reachable (--s3-endpoint, MQBAK_S3_ENDPOINT)',
    });
  }
  return new MqbakError('unreachable', `${where}: ${name ? `${name}: ` : ''}${message}`, { cause: e });
}

/** S3 refuses a request signed more than 15 minutes away from its own clock. */
export function clockSkew(where: string, cause: unknown): MqbakError {
  return new MqbakError(
    'unreachable',
    `${where}: the server refused the request's time (RequestTimeTooSkewed): this machine's clock and the server's differ by more than S3 allows (15 minutes)`,
    { cause, hint: "set this machine's clock right (NTP), or the server's" },
  );
}

/** Error codes that say why a request was refused (403), as S3 servers send them in a body. */
export const KNOWN_REFUSALS: readonly string[] = ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'RequestTimeTooSkewed', 'InvalidToken', 'ExpiredToken', 'AllAccessDisabled'];
