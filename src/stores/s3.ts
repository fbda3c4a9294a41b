/**
 * The S3 store: archives in AWS S3 or an S3-compatible server (MinIO, Ceph, R2, B2...).
 * This module is only loaded for s3:// stores, so it may import the SDK at the top.
 *
 * What it checks, because object stores fail quietly: every upload (single or each part) is
 * signed with the SHA-256 of its bytes, which S3 and servers like it verify on receipt, carries
 * the CRC32 with flexible checksums on, and Content-MD5 where a server asks for it; after every
 * upload a HeadObject must show the exact size sent and every checksum mqbak can compute
 * (s3-read-back.ts). Write-once is If-None-Match '*' where the server honours it, and a
 * HeadObject before writing everywhere. A body given as parts is sent as they are, never joined
 * (s3-body.ts). Its parts: s3-config.ts (settings and the SDK client), s3-retry.ts (retries),
 * s3-multipart.ts (large uploads), s3-errors.ts (what failures mean).
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type GetObjectCommandOutput,
  type HeadObjectCommandOutput,
  type ListObjectsV2CommandOutput,
} from './s3-sdk.js';
import { MqbakError, throwIfAborted } from '../common/errors.js';
import { DEFAULT_MAX_ATTEMPTS, MULTIPART_THRESHOLD, PART_SIZE, s3ClientConfig, s3Description, sseParams, type S3Config, type S3StoreTuning } from './s3-config.js';
import { PartsBody, sameBytes, sendPartsBodies, type Bytes } from './s3-body.js';
import { uploadChecksums, type UploadChecksums } from './s3-checksums.js';
import { asksForContentMd5, clockSkew, isNotFound, isNotImplemented, isPreconditionFailed, KNOWN_REFUSALS, nameOf, s3Failure, statusOf } from './s3-errors.js';
import { leftParts, multipartUpload, type MultipartTarget } from './s3-multipart.js';
import { readGetBody } from './s3-get-body.js';
import { checkUploaded } from './s3-read-back.js';
import { RETRY_BASE_MS, sendWithRetry, type RetryPolicy } from './s3-retry.js';
import { StoreNotFoundError, type ByteRange, type ObjectInfo, type Store, type StoreAccess } from './store.js';

export type { S3Config, S3StoreTuning } from './s3-config.js';

export async function openS3Store(bucket: string, prefix: string, config: S3Config, tuning: S3StoreTuning = {}): Promise<Store> {
  return new S3Store(bucket, prefix, config, tuning);
}

export class S3Store implements Store {
  readonly description: string;
  readonly remote = true;
  private readonly client: S3Client;
  /** The key prefix inside the bucket, with its trailing '/' (or empty). */
  private readonly base: string;
  private readonly retry: RetryPolicy;
  private readonly multipartThreshold: number;
  private readonly multipart: MultipartTarget;
  /** Cleared when the server answers If-None-Match with 501: some compatible servers do. */
  private readonly writeOnce = { conditional: true };
  /** Set when Content-MD5 goes on every upload: asked for by the settings, or by the server once. */
  private contentMd5Always: boolean;
  /** Server-side encryption parameters of every upload (empty without --s3-sse). */
  private readonly sse: ReturnType<typeof sseParams>;
  private bucketChecked = false;

  constructor(
    private readonly bucket: string,
    prefix: string,
    config: S3Config,
    tuning: S3StoreTuning = {},
  ) {
    this.base = prefix ? `${prefix.replace(/^\/+|\/+$/g, '')}/` : '';
    this.retry = { attempts: config.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, baseMs: tuning.retryBaseMs ?? RETRY_BASE_MS };
    this.multipartThreshold = tuning.multipartThreshold ?? MULTIPART_THRESHOLD;
    this.description = s3Description(bucket, this.base, config.endpoint);
    this.sse = sseParams(config);
    this.contentMd5Always = config.contentMd5 === true;
    this.client = new S3Client(s3ClientConfig(config, tuning));
    sendPartsBodies(this.client);
    this.multipart = {
      sse: this.sse,
      client: this.client,
      bucket,
      description: this.description,
      partSize: tuning.partSize ?? PART_SIZE,
      send: (command, signal, onRetry) => this.send(command, signal, onRetry),
      writeOnce: this.writeOnce,
      holds: (Key, body, signal) => this.holds(Key.slice(this.base.length), body, signal),
      flexible: () => this.flexible(),
      withChecksums: (body, request) => this.withChecksums(body, request),
    };
  }

  private objectKey(key: string): string {
    if (key.length === 0 || key.startsWith('/')) {
      throw new MqbakError('internal', `${this.description}: invalid key ${JSON.stringify(key)}`);
    }
    return this.base + key;
  }

  async put(key: string, parts: Bytes, options: { signal?: AbortSignal; sha256?: string } = {}): Promise<ObjectInfo> {
    // the parts as they are: each attempt streams views of them (no copy of the segment); a
    // single put is signed with the caller's SHA-256 when it has one (a segment's)
    const body = new PartsBody(parts, options.sha256);
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    // Write-once: servers that honour If-None-Match refuse a second writer atomically; for the
    // others (s3rver, older MinIO) this check is the guard.
    if ((await this.stat(key, options)) !== null) {
      throw new MqbakError('exists', `${this.description}: object ${key} already exists`);
    }
    const multipart = body.length > this.multipartThreshold;
    let retried = false;
    const onRetry = () => (retried = true);
    try {
      if (multipart) await multipartUpload(this.multipart, Key, body, options.signal, onRetry);
      else await this.putWhole(Key, body, options.signal, onRetry);
    } catch (e) {
      if (isPreconditionFailed(e)) {
        // After a retry the object may be this very upload, whose first answer was lost
        if (!(retried && (await this.holds(key, body, options.signal)))) {
          throw new MqbakError('exists', `${this.description}: object ${key} already exists`);
        }
      } else {
        const failure = this.failure(e, `put ${key}`, options.signal);
        if (!leftParts(e)) throw failure;
        throw new MqbakError(failure.code, `${failure.message} (its multipart upload could not be aborted: the parts already sent stay on the server)`, {
          hint: failure.hint ?? 'a bucket lifecycle rule with AbortIncompleteMultipartUpload removes them',
          retriable: failure.retriable,
          cause: e,
        });
      }
    }
    const head = await this.readBack(key, options.signal);
    checkUploaded(head, key, body.parts, multipart, this.multipart.partSize, this.description);
    return { key, size: body.length, modified: head.LastModified?.getTime() ?? null };
  }

  /**
   * One PutObject, write-once where the server supports If-None-Match. With flexible checksums on,
   * the CRC32 is computed here and sent as a header: given a streamed body, the SDK would compute
   * it itself into an aws-chunked trailer, which many servers refuse.
   */
  private async putWhole(Key: string, body: PartsBody, signal: AbortSignal | undefined, onRetry: () => void): Promise<void> {
    const putOnce = (conditional: boolean) =>
      this.withChecksums(body, (checksums) =>
        this.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key,
            // sent by the client's PartsBody middleware (s3-body.ts)
            Body: body as never,
            ContentLength: body.length,
            ...checksums,
            IfNoneMatch: conditional ? '*' : undefined,
            ...this.sse,
          }),
          signal,
          onRetry,
        ),
      );
    try {
      await putOnce(this.writeOnce.conditional);
    } catch (e) {
      if (!this.writeOnce.conditional || !isNotImplemented(e)) throw e;
      this.writeOnce.conditional = false;
      await putOnce(false);
    }
  }

  /**
   * Sends the upload `request` makes with the integrity headers of `body`. Every upload is signed
   * with the SHA-256 of its bytes (s3-body.ts), which AWS S3 and Ceph RGW check against what
   * arrives; the CRC32 goes with it when flexible checksums are on. Content-MD5 would check the
   * same bytes once more at the price of the dearest hash of the three (about 0.4 s of CPU per
   * 235 MB), so it goes only where asked: by the settings, or by a server that refuses an upload
   * without it (AWS S3 into a bucket with Object Lock when no flexible checksum is sent), which
   * is then sent again with it, as is every upload after it.
   */
  private async withChecksums<T>(body: PartsBody, request: (checksums: UploadChecksums) => Promise<T>): Promise<T> {
    const crc32 = await this.flexible();
    const md5 = this.contentMd5Always;
    try {
      return await request(uploadChecksums(body, { crc32, md5 }));
    } catch (e) {
      if (md5 || !asksForContentMd5(e)) throw e;
      this.contentMd5Always = true;
      return request(uploadChecksums(body, { crc32, md5: true }));
    }
  }

  /** HeadObject with the checksums, right after an upload. */
  private async readBack(key: string, signal: AbortSignal | undefined): Promise<HeadObjectCommandOutput> {
    try {
      return await this.send<HeadObjectCommandOutput>(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), ChecksumMode: 'ENABLED' }), signal);
    } catch (e) {
      if (isNotFound(e)) throw new MqbakError('integrity', `${this.description}: object ${key} is missing right after its upload`);
      throw this.failure(e, `check ${key} after upload`, signal);
    }
  }

  /** Whether the client adds flexible checksums to uploads (--s3-checksum when-supported, the SDK's default). */
  private async flexible(): Promise<boolean> {
    return (await this.client.config.requestChecksumCalculation()) === 'WHEN_SUPPORTED';
  }

  /** Whether `key` holds exactly `body` (read back in full). */
  private async holds(key: string, body: PartsBody, signal: AbortSignal | undefined): Promise<boolean> {
    try {
      return sameBytes(await this.get(key, { signal }), body.parts);
    } catch (e) {
      if (e instanceof StoreNotFoundError) return false;
      throw e;
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
      // straight into one buffer of the stated length (s3-get-body.ts), which it must fill
      const bytes = await readGetBody(out.Body, out.ContentLength, this.description, key);
      return r ? this.askedRange(key, r, bytes, out.ContentRange) : bytes;
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

  /**
   * The asked bytes out of what came. Some servers answer with more than was asked (s3rver reads
   * bytes=0-0 as the whole object): the range the server says it sent tells where they are.
   */
  private askedRange(key: string, r: ByteRange, bytes: Uint8Array, contentRange: string | undefined): Uint8Array {
    const sent = parseContentRange(contentRange) ?? { start: 0, end: bytes.length, total: bytes.length };
    if (sent.end - sent.start !== bytes.length) {
      throw new MqbakError('integrity', `${this.description}: read ${bytes.length} bytes of ${key} for a range of ${sent.end - sent.start}`, { retriable: true });
    }
    const want = { start: r.start, end: Math.min(r.end, sent.total) };
    if (want.start < sent.start || want.end > sent.end) {
      throw new MqbakError('integrity', `${this.description}: asked bytes ${want.start}-${want.end} of ${key}, got ${sent.start}-${sent.end}`, { retriable: true });
    }
    return bytes.subarray(want.start - sent.start, want.end - sent.start);
  }

  async stat(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectInfo | null> {
    const Key = this.objectKey(key);
    throwIfAborted(options.signal);
    try {
      const out = await this.send<HeadObjectCommandOutput>(new HeadObjectCommand({ Bucket: this.bucket, Key }), options.signal);
      return { key, size: out.ContentLength ?? 0, modified: out.LastModified?.getTime() ?? null };
    } catch (e) {
      if (isNotFound(e)) {
        // HeadObject answers a bare 404 for a missing bucket too: tell the two apart once
        if (nameOf(e) !== 'NoSuchKey') await this.checkBucket(options.signal);
        return null;
      }
      // A refused HeadObject has no body, so no reason: a listing shows the server's
      // (SignatureDoesNotMatch, RequestTimeTooSkewed, ...) if it is refused too
      if (statusOf(e) === 403 && !KNOWN_REFUSALS.includes(nameOf(e))) throw await this.explainRefusal(e, `stat ${key}`, options.signal);
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
        all.push({ key: o.Key.slice(this.base.length), size: o.Size ?? 0, modified: o.LastModified?.getTime() ?? null });
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

  /**
   * The bucket must exist for either access: mqbak never creates one (docs/S3.md). A listing of
   * one key under the prefix also shows that the credentials are accepted; whether they may
   * write shows at the first put, which a backup makes at once (its lock).
   */
  async check(_access: StoreAccess, options: { signal?: AbortSignal } = {}): Promise<void> {
    throwIfAborted(options.signal);
    await this.checkBucket(options.signal);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private send<T = unknown>(command: object, signal: AbortSignal | undefined, onRetry?: () => void): Promise<T> {
    return sendWithRetry<T>(this.client, command, this.retry, signal, onRetry);
  }

  private async checkBucket(signal: AbortSignal | undefined): Promise<void> {
    if (this.bucketChecked) return;
    try {
      await this.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, Prefix: this.base }), signal);
      this.bucketChecked = true;
    } catch (e) {
      throw this.failure(e, 'check the bucket', signal);
    }
  }

  /**
   * The failure of a refused request without a reason, with the reason a listing gives. The SDK
   * moves its clock to the server's when an answer's Date is more than 5 minutes from its own
   * (clockSkewCorrected): if the listing then passes, the clock was the reason.
   */
  private async explainRefusal(e: unknown, what: string, signal: AbortSignal | undefined): Promise<MqbakError> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, MaxKeys: 1, Prefix: this.base }), { abortSignal: signal });
      if ((e as { $metadata?: { clockSkewCorrected?: boolean } }).$metadata?.clockSkewCorrected) return clockSkew(`${this.description}: ${what}`, e);
    } catch (listed) {
      if (statusOf(listed) === 403 && KNOWN_REFUSALS.includes(nameOf(listed))) return this.failure(listed, what, signal);
    }
    return this.failure(e, what, signal);
  }

  private failure(e: unknown, what: string, signal: AbortSignal | undefined): MqbakError {
    return s3Failure(e, `${this.description}: ${what}`, this.bucket, this.retry.attempts, signal);
  }
}

/** "bytes 3-6/10" as the half-open range [3, 7) of 10. */
function parseContentRange(v: string | undefined): { start: number; end: number; total: number } | null {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+)$/.exec(v.trim()) : null;
  return m ? { start: Number(m[1]), end: Number(m[2]) + 1, total: Number(m[3]) } : null;
}
