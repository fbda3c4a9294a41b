/**
 * The S3 store: archives in AWS S3 or an S3-compatible server (MinIO, Ceph, R2, B2...).
 * This module is only loaded for s3:// stores, so it may import the SDK at the top.
 *
 * What it checks, because object stores fail quietly: every upload (single or each part) carries
 * Content-MD5, which servers that implement it verify on receipt; after every upload a
 * HeadObject must show the exact size sent (this also catches the SDK's aws-chunked checksum
 * trailers stored inside the object by servers that do not understand them) and every checksum
 * the server reports that mqbak can compute must match the bytes sent. Write-once is
 * If-None-Match '*' where the server honours it, and a HeadObject before writing everywhere.
 */
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandOutput,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
  type S3ClientConfig,
  type UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
import { MqbakError, throwIfAborted } from '../common/errors.js';
import type { S3Config } from './open.js';
import { compositeChecksum, fullObjectChecksum, type S3ChecksumAlgorithm } from './s3-checksums.js';
import { StoreNotFoundError, wholeBody, type ByteRange, type ObjectInfo, type Store } from './store.js';

/** Bodies above this go up as multipart uploads. */
const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
const PART_SIZE = 8 * 1024 * 1024;
/** Parts in flight at once (parts are views of the body in memory: no copies). */
const QUEUE_SIZE = 4;
const DEFAULT_MAX_ATTEMPTS = 6;
/** Backoff between attempts: 0.5 s, 1 s, 2 s, 4 s, 8 s (each with up to 50% jitter taken off). */
const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 8000;
/** A connection that takes this long to open, or a socket silent this long, counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 120_000;

/**
 * Knobs for tests (small parts, short timeouts and backoff); the CLI never sets them.
 * Everything users may tune is in S3Config.
 */
export interface S3StoreTuning {
  multipartThreshold?: number;
  partSize?: number;
  retryBaseMs?: number;
  connectTimeoutMs?: number;
  socketTimeoutMs?: number;
}

export async function openS3Store(bucket: string, prefix: string, config: S3Config, tuning: S3StoreTuning = {}): Promise<Store> {
  return new S3Store(bucket, prefix, config, tuning);
}

const CHECKSUM_FIELDS = [
  ['CRC64NVME', 'ChecksumCRC64NVME'],
  ['CRC32', 'ChecksumCRC32'],
  ['CRC32C', 'ChecksumCRC32C'],
  ['SHA256', 'ChecksumSHA256'],
  ['SHA1', 'ChecksumSHA1'],
] as const satisfies ReadonlyArray<readonly [S3ChecksumAlgorithm, keyof HeadObjectCommandOutput]>;

export class S3Store implements Store {
  readonly description: string;
  private readonly client: S3Client;
  private readonly base: string;
  private readonly attempts: number;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly retryBaseMs: number;
  /** Errors of multipart uploads that could not be aborted afterwards (their parts stay). */
  private readonly unaborted = new WeakSet<object>();
  /** Cleared when the server answers If-None-Match with 501: some compatible servers do. */
  private conditionalWrites = true;

  constructor(
    private readonly bucket: string,
    prefix: string,
    config: S3Config,
    tuning: S3StoreTuning = {},
  ) {
    this.base = prefix ? `${prefix.replace(/^\/+|\/+$/g, '')}/` : '';
    this.attempts = config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    this.multipartThreshold = tuning.multipartThreshold ?? MULTIPART_THRESHOLD;
    this.partSize = tuning.partSize ?? PART_SIZE;
    this.retryBaseMs = tuning.retryBaseMs ?? RETRY_BASE_MS;
    const clientConfig: S3ClientConfig = {
      region: config.region ?? 'us-east-1',
      forcePathStyle: config.forcePathStyle ?? false,
      // a bucket in another region than the one configured still works on AWS (one redirect)
      followRegionRedirects: true,
      // transient failures are retried by send() below, with a backoff long enough to ride out
      // a restarting server (the SDK's own gives up on a refused connection in under a second)
      maxAttempts: 1,
      // without these a server that accepts and then never answers hangs a backup forever
      requestHandler: {
        connectionTimeout: tuning.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
        socketTimeout: tuning.socketTimeoutMs ?? SOCKET_TIMEOUT_MS,
      },
    };
    if (config.endpoint) clientConfig.endpoint = config.endpoint;
    if (config.checksum === 'when-required') {
      clientConfig.requestChecksumCalculation = 'WHEN_REQUIRED';
      clientConfig.responseChecksumValidation = 'WHEN_REQUIRED';
    } else if (config.checksum === 'when-supported') {
      clientConfig.requestChecksumCalculation = 'WHEN_SUPPORTED';
      clientConfig.responseChecksumValidation = 'WHEN_SUPPORTED';
    }
    let where = `s3://${bucket}${this.base ? `/${this.base.slice(0, -1)}` : ''}`;
    if (config.endpoint) {
      try {
        where += ` at ${new URL(config.endpoint).host}`;
      } catch {
        throw new MqbakError('usage', `S3 endpoint ${JSON.stringify(config.endpoint)} is not a URL`, {
          hint: 'give it as http(s)://host:port',
        });
      }
    }
    this.description = where;
    this.client = new S3Client(clientConfig);
  }

  private objectKey(key: string): string {
    if (key.length === 0 || key.startsWith('/')) {
      throw new MqbakError('internal', `${this.description}: invalid key ${JSON.stringify(key)}`);
    }
    return this.base + key;
  }

  async put(key: string, parts: Uint8Array | readonly Uint8Array[], options: { signal?: AbortSignal } = {}): Promise<ObjectInfo> {
    // one buffer: the SDK, its checksums and a retry read it whole (a copy when given parts)
    const body = wholeBody(parts);
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    // Write-once: servers that honour If-None-Match refuse a second writer atomically; for the
    // others (s3rver, older MinIO) this check is the guard.
    if ((await this.stat(key, options)) !== null) {
      throw new MqbakError('exists', `${this.description}: object ${key} already exists`);
    }
    const multipart = body.length > this.multipartThreshold;
    let retried = false;
    try {
      if (!multipart) {
        const contentMD5 = createHash('md5').update(body).digest('base64');
        const putOnce = (conditional: boolean) =>
          this.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key,
              Body: body,
              ContentLength: body.length,
              ContentMD5: contentMD5,
              IfNoneMatch: conditional ? '*' : undefined,
            }),
            options.signal,
            () => (retried = true),
          );
        try {
          await putOnce(this.conditionalWrites);
        } catch (e) {
          if (!this.conditionalWrites || !isNotImplemented(e)) throw e;
          this.conditionalWrites = false;
          await putOnce(false);
        }
      } else {
        await this.multipartUpload(Key, body, options.signal, () => (retried = true));
      }
    } catch (e) {
      if (statusOf(e) === 412 || nameOf(e) === 'PreconditionFailed') {
        // After a retry the object may be this very upload, whose first answer was lost
        if (!(retried && (await this.holds(key, body, options.signal)))) {
          throw new MqbakError('exists', `${this.description}: object ${key} already exists`);
        }
      } else {
        const failure = this.failure(e, `put ${key}`, options.signal);
        if (!(typeof e === 'object' && e !== null && this.unaborted.has(e))) throw failure;
        throw new MqbakError(failure.code, `${failure.message} (its multipart upload could not be aborted: the parts already sent stay on the server)`, {
          hint: failure.hint ?? 'a bucket lifecycle rule with AbortIncompleteMultipartUpload removes them',
          retriable: failure.retriable,
          cause: e,
        });
      }
    }
    await this.checkStored(key, body, multipart, options.signal);
    return { key, size: body.length };
  }

  /**
   * A multipart upload of a body already in memory: parts are views of it (no copies), sent
   * QUEUE_SIZE at a time, each with Content-MD5 (checked by the server) and each retried on its
   * own like any request. Any failure aborts the upload, so no invisible parts are left to pay
   * for, and the error reported is the one that failed the upload, not the abort's.
   * (Not lib-storage's Upload: it reports the abort's error instead of the part's when the abort
   * fails too, which turned a retriable 500 into a permanent 405 on s3rver, and it sends no
   * Content-MD5 per part.)
   */
  private async multipartUpload(Key: string, body: Uint8Array, signal: AbortSignal | undefined, onRetry: () => void): Promise<void> {
    // With flexible checksums on, the SDK adds a CRC32 to every part; S3 then wants the upload
    // created with that algorithm and each part's checksum listed on completion.
    const flexible = (await this.client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
    const create = await this.send<CreateMultipartUploadCommandOutput>(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ChecksumAlgorithm: flexible ? 'CRC32' : undefined }),
      signal,
      onRetry,
    );
    const UploadId = create.UploadId;
    if (!UploadId) throw new MqbakError('unreachable', `${this.description}: the server started a multipart upload without an upload id`);
    try {
      const count = Math.ceil(body.length / this.partSize);
      const parts: CompletedPart[] = new Array<CompletedPart>(count);
      let next = 0;
      let failed = false;
      const worker = async (): Promise<void> => {
        while (next < count && !failed) {
          const i = next++;
          const part = body.subarray(i * this.partSize, Math.min(body.length, (i + 1) * this.partSize));
          try {
            const out = await this.send<UploadPartCommandOutput>(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key,
                UploadId,
                PartNumber: i + 1,
                Body: part,
                ContentLength: part.length,
                ContentMD5: createHash('md5').update(part).digest('base64'),
                ChecksumAlgorithm: flexible ? 'CRC32' : undefined,
              }),
              signal,
              onRetry,
            );
            if (!out.ETag) throw new MqbakError('unreachable', `${this.description}: the server answered part ${i + 1} of ${Key} without an ETag`);
            parts[i] = { PartNumber: i + 1, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) };
          } catch (e) {
            failed = true;
            throw e;
          }
        }
      };
      // every worker settles before the abort below, so no part lands after it
      const settled = await Promise.allSettled(Array.from({ length: Math.min(QUEUE_SIZE, count) }, worker));
      const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (rejected) throw rejected.reason;
      throwIfAborted(signal);
      const complete = (conditional: boolean) =>
        this.send(
          new CompleteMultipartUploadCommand({
            Bucket: this.bucket,
            Key,
            UploadId,
            MultipartUpload: { Parts: parts },
            IfNoneMatch: conditional ? '*' : undefined,
          }),
          signal,
          onRetry,
        );
      try {
        await complete(this.conditionalWrites);
      } catch (e) {
        if (this.conditionalWrites && isNotImplemented(e)) {
          this.conditionalWrites = false;
          await complete(false);
        } else if (nameOf(e) === 'NoSuchUpload') {
          // a completion whose answer was lost and was retried: the upload is gone because it is done
          const done = await this.holds(Key.slice(this.base.length), body, signal);
          if (!done) throw e;
        } else {
          throw e;
        }
      }
    } catch (e) {
      // even when interrupted: one attempt, bounded, so that Ctrl-C does not wait for retries
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId }), { abortSignal: AbortSignal.timeout(10_000) })
        .catch(() => {
          if (typeof e === 'object' && e !== null) this.unaborted.add(e);
        });
      throw e;
    }
  }

  /** Whether `key` holds exactly `body` (read back in full). */
  private async holds(key: string, body: Uint8Array, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      const stored = await this.get(key, { signal });
      return Buffer.compare(Buffer.from(stored.buffer, stored.byteOffset, stored.byteLength), Buffer.from(body.buffer, body.byteOffset, body.byteLength)) === 0;
    } catch (e) {
      if (e instanceof StoreNotFoundError) return false;
      throw e;
    }
  }

  /**
   * After an upload: the stored size must be what was sent, and so must every checksum the
   * server reports that mqbak can compute (servers that report none, like s3rver, are checked
   * on size alone; single puts also carried Content-MD5, checked by the server on receipt).
   */
  private async checkStored(key: string, body: Uint8Array, multipart: boolean, signal: AbortSignal | undefined): Promise<void> {
    let head: HeadObjectCommandOutput;
    try {
      head = await this.send<HeadObjectCommandOutput>(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), ChecksumMode: 'ENABLED' }),
        signal,
      );
    } catch (e) {
      if (isNotFound(e)) {
        throw new MqbakError('integrity', `${this.description}: object ${key} is missing right after its upload`);
      }
      throw this.failure(e, `check ${key} after upload`, signal);
    }
    const size = head.ContentLength ?? 0;
    if (size !== body.length) {
      throw new MqbakError('integrity', `${this.description}: object ${key} holds ${size} bytes after uploading ${body.length}`, {
        hint: "servers that do not understand the SDK's checksum trailers store them in the object: try --s3-checksum when-required",
      });
    }
    for (const [algorithm, field] of CHECKSUM_FIELDS) {
      const reported = head[field];
      if (typeof reported !== 'string' || reported === '') continue;
      const composite = /-\d+$/.test(reported);
      // a composite checksum is over the parts as uploaded: only ours (known part size) can be recomputed
      if (composite && !multipart) continue;
      const expected = composite ? compositeChecksum(algorithm, body, this.partSize) : fullObjectChecksum(algorithm, body);
      if (reported !== expected) {
        throw new MqbakError(
          'integrity',
          `${this.description}: object ${key} has ${algorithm} ${reported} after upload, the bytes sent have ${expected}`,
          { retriable: true },
        );
      }
    }
  }

  async get(key: string, options: { range?: ByteRange; signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    const r = options.range;
    if (r) {
      if (!Number.isSafeInteger(r.start) || !Number.isSafeInteger(r.end) || r.start < 0 || r.end < r.start) {
        throw new MqbakError('internal', `${this.description}: invalid range [${r.start}, ${r.end}) for ${key}`);
      }
      // HTTP cannot ask for zero bytes: an empty range only needs the object to exist
      if (r.start === r.end) {
        if ((await this.stat(key, options)) === null) throw new StoreNotFoundError(key, this.description);
        return new Uint8Array(0);
      }
    }
    try {
      const out = await this.send<GetObjectCommandOutput>(
        new GetObjectCommand({ Bucket: this.bucket, Key, Range: r ? `bytes=${r.start}-${r.end - 1}` : undefined }),
        options.signal,
      );
      if (!out.Body) return new Uint8Array(0);
      const bytes = await out.Body.transformToByteArray();
      // Some servers answer with more than was asked (s3rver reads bytes=0-0 as the whole
      // object): take the asked bytes out of what came, by the range the server says it sent.
      if (r) {
        const sent = parseContentRange(out.ContentRange) ?? { start: 0, end: bytes.length, total: bytes.length };
        if (sent.end - sent.start !== bytes.length) {
          throw new MqbakError('integrity', `${this.description}: read ${bytes.length} bytes of ${key} for a range of ${sent.end - sent.start}`, { retriable: true });
        }
        const want = { start: r.start, end: Math.min(r.end, sent.total) };
        if (want.start < sent.start || want.end > sent.end) {
          throw new MqbakError('integrity', `${this.description}: asked bytes ${want.start}-${want.end} of ${key}, got ${sent.start}-${sent.end}`, { retriable: true });
        }
        return bytes.subarray(want.start - sent.start, want.end - sent.start);
      }
      if (out.ContentLength !== undefined && bytes.length !== out.ContentLength) {
        throw new MqbakError('integrity', `${this.description}: read ${bytes.length} of ${out.ContentLength} bytes of ${key}`, {
          retriable: true,
        });
      }
      return bytes;
    } catch (e) {
      if (e instanceof MqbakError) throw e;
      if (isNotFound(e)) throw new StoreNotFoundError(key, this.description);
      // like a file: a range that starts past the end gives nothing
      if (r && statusOf(e) === 416) {
        if ((await this.stat(key, options)) === null) throw new StoreNotFoundError(key, this.description);
        return new Uint8Array(0);
      }
      throw this.failure(e, `get ${key}`, options.signal);
    }
  }

  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | null> {
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    try {
      const out = await this.send<HeadObjectCommandOutput>(new HeadObjectCommand({ Bucket: this.bucket, Key }), options.signal);
      return { key, size: out.ContentLength ?? 0 };
    } catch (e) {
      if (isNotFound(e)) {
        // HeadObject answers a bare 404 for a missing bucket too: tell the two apart once
        if (nameOf(e) !== 'NoSuchKey') await this.checkBucket(options.signal);
        return null;
      }
      throw this.failure(e, `stat ${key}`, options.signal);
    }
  }

  async *list(prefix: string, options: { signal?: AbortSignal } = {}): AsyncIterable<ObjectInfo> {
    // S3 lists in UTF-8 byte order, but not every compatible server does (s3rver walks its
    // folders): the whole listing is gathered and sorted here. A backup's keys number in the
    // thousands, a few hundred kilobytes.
    const all: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      throwIfAborted(options.signal);
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.send<ListObjectsV2CommandOutput>(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.base + prefix, ContinuationToken: token }),
          options.signal,
        );
      } catch (e) {
        throw this.failure(e, `list ${prefix || '(all)'}`, options.signal);
      }
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || !o.Key.startsWith(this.base)) continue;
        all.push({ key: o.Key.slice(this.base.length), size: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    all.sort((a, b) => Buffer.compare(Buffer.from(a.key), Buffer.from(b.key)));
    yield* all;
  }

  async delete(key: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    try {
      await this.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }), options.signal);
    } catch (e) {
      if (isNotFound(e) && nameOf(e) !== 'NoSuchBucket') return;
      throw this.failure(e, `delete ${key}`, options.signal);
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private bucketChecked = false;

  /** client.send with retries of transient failures: exponential backoff with jitter. */
  private async send<T = unknown>(command: object, signal: AbortSignal | undefined, onRetry?: () => void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await this.client.send(command as never, { abortSignal: signal })) as T;
      } catch (e) {
        if (attempt >= this.attempts || signal?.aborted || !isTransient(e)) throw e;
        onRetry?.();
        await this.backoff(attempt, signal);
      }
    }
  }

  private async backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const delay = Math.min(RETRY_MAX_MS, this.retryBaseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, delay);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  private async checkBucket(signal: AbortSignal | undefined): Promise<void> {
    if (this.bucketChecked) return;
    try {
      await this.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, Prefix: this.base }), signal);
      this.bucketChecked = true;
    } catch (e) {
      throw this.failure(e, 'check bucket', signal);
    }
  }

  /** Turns an SDK or network error into an MqbakError with the exit status it deserves. */
  private failure(e: unknown, what: string, signal: AbortSignal | undefined): MqbakError {
    if (signal?.aborted || nameOf(e) === 'AbortError') return new MqbakError('interrupted', `${this.description}: ${what}: interrupted`);
    const name = nameOf(e);
    const status = statusOf(e);
    const message = e instanceof Error ? e.message : String(e);
    const where = `${this.description}: ${what}`;
    if (name === 'NoSuchBucket') {
      return new MqbakError('unreachable', `${where}: bucket ${this.bucket} does not exist`, {
        cause: e,
        hint: 'create the bucket first, or check the bucket name, region and endpoint',
      });
    }
    if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
      return new MqbakError('usage', `${where}: no AWS credentials found`, {
        cause: e,
        hint: 'set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run where an instance role is available',
      });
    }
    if (status === 403 || ['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'Forbidden'].includes(name)) {
      return new MqbakError('unreachable', `${where}: access denied (${name && name !== 'Unknown' ? name : `HTTP ${status}`})`, {
        cause: e,
        hint: 'check the credentials and that they may read and write this bucket and prefix',
      });
    }
    if (name === 'BadDigest' || name === 'InvalidDigest') {
      return new MqbakError('integrity', `${where}: the server received other bytes than were sent (${name})`, { cause: e, retriable: true });
    }
    if (isTransient(e)) {
      return new MqbakError('unreachable', `${where}: ${describeTransient(e)} (gave up after ${this.attempts} attempts)`, {
        cause: e,
        retriable: true,
        hint: 'check that the S3 endpoint is up and reachable (--s3-endpoint, MQBAK_S3_ENDPOINT)',
      });
    }
    return new MqbakError('unreachable', `${where}: ${name ? `${name}: ` : ''}${message}`, { cause: e });
  }
}

function nameOf(e: unknown): string {
  return typeof e === 'object' && e !== null && 'name' in e ? String((e as { name: unknown }).name) : '';
}

function statusOf(e: unknown): number | undefined {
  return (e as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
}

function isNotFound(e: unknown): boolean {
  const name = nameOf(e);
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(e) === 404 && name !== 'NoSuchBucket');
}

/** "bytes 3-6/10" as the half-open range [3, 7) of 10. */
function parseContentRange(v: string | undefined): { start: number; end: number; total: number } | null {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(v.trim()) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]) + 1, total: Number(m[3]) } : null;
}

/** 501: a server that does not implement a header it was sent (If-None-Match, on some). */
function isNotImplemented(e: unknown): boolean {
  return statusOf(e) === 501 || nameOf(e) === 'NotImplemented';
}

function isTransient(e: unknown): boolean {
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
  return e instanceof Error ? e.message : String(e);
}
