/**
 * A multipart upload of a body already in memory: each part is a list of views of the caller's
 * chunks (a chunk that straddles a part boundary is cut into two views; nothing is copied), sent
 * QUEUE_SIZE at a time as a stream of those views, each signed with its SHA-256 and with the
 * checksums of the store's choice (withChecksums), and each retried on its own like any request. Any failure aborts the upload, so no invisible parts are left to pay
 * for, and the error reported is the one that failed the upload, not the abort's.
 * (Not lib-storage's Upload: it reports the abort's error instead of the part's when the abort
 * fails too, which turned a retriable 500 into a permanent 405 on s3rver, and it could not
 * add Content-MD5 to a part when a server asks for it.)
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  UploadPartCommand,
  type CompletedPart,
  type CreateMultipartUploadCommandOutput,
  type S3Client,
  type UploadPartCommandOutput,
} from './s3-sdk.js';
import { MqbakError, throwIfAborted } from '../common/errors.js';
import { PartsBody } from './s3-body.js';
import type { UploadChecksums } from './s3-checksums.js';
import { isNotImplemented, nameOf } from './s3-errors.js';

/** Parts in flight at once (parts are views of the caller's chunks: no copies). */
const QUEUE_SIZE = 4;

/** What an upload needs of its store. */
export interface MultipartTarget {
  readonly client: S3Client;
  readonly bucket: string;
  readonly description: string;
  readonly partSize: number;
  /** Server-side encryption of the upload (S3 takes it when the upload is created, not per part). */
  readonly sse: { ServerSideEncryption?: 'AES256' | 'aws:kms'; SSEKMSKeyId?: string };
  /** A request with the store's retries. */
  send<T>(command: object, signal: AbortSignal | undefined, onRetry?: () => void): Promise<T>;
  /** Whether to ask for write-once with If-None-Match; the upload clears it when the server answers 501. */
  writeOnce: { conditional: boolean };
  /** Whether the object `Key` (full object key) holds exactly `body`. */
  holds(Key: string, body: PartsBody, signal: AbortSignal | undefined): Promise<boolean>;
  /** Whether the client adds flexible checksums (requestChecksumCalculation WHEN_SUPPORTED). */
  flexible(): Promise<boolean>;
  /** Sends the upload `request` makes with the integrity headers of `body` (S3Store.withChecksums). */
  withChecksums<T>(body: PartsBody, request: (checksums: UploadChecksums) => Promise<T>): Promise<T>;
}

// Errors of uploads whose abort failed as well: their parts stay on the server, which the
// message should say
const unaborted = new WeakSet<object>();

/** Whether `e` failed an upload that could not be aborted afterwards. */
export function leftParts(e: unknown): boolean {
  return typeof e === 'object' && e !== null && unaborted.has(e);
}

export async function multipartUpload(t: MultipartTarget, Key: string, body: PartsBody, signal: AbortSignal | undefined, onRetry: () => void): Promise<void> {
  // With flexible checksums on, every part carries its CRC32 (computed here: the SDK would send a
  // streamed body aws-chunked, with a trailer); S3 then wants the upload created with that
  // algorithm and each part's checksum listed on completion.
  const flexible = await t.flexible();
  const create = await t.send<CreateMultipartUploadCommandOutput>(
    new CreateMultipartUploadCommand({ Bucket: t.bucket, Key, ChecksumAlgorithm: flexible ? 'CRC32' : undefined, ...t.sse }),
    signal,
    onRetry,
  );
  const UploadId = create.UploadId;
  if (!UploadId) throw new MqbakError('unreachable', `${t.description}: the server started a multipart upload without an upload id`);
  try {
    const parts = await uploadParts(t, Key, UploadId, body, signal, onRetry);
    throwIfAborted(signal);
    const complete = (conditional: boolean) =>
      t.send(
        new CompleteMultipartUploadCommand({
          Bucket: t.bucket,
          Key,
          UploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch: conditional ? '*' : undefined,
        }),
        signal,
        onRetry,
      );
    try {
      await complete(t.writeOnce.conditional);
    } catch (e) {
      if (t.writeOnce.conditional && isNotImplemented(e)) {
        t.writeOnce.conditional = false;
        await complete(false);
      } else if (nameOf(e) === 'NoSuchUpload') {
        // a completion whose answer was lost and was retried: the upload is gone because it is done
        if (!(await t.holds(Key, body, signal))) throw e;
      } else {
        throw e;
      }
    }
  } catch (e) {
    // even when interrupted: one attempt, bounded, so that Ctrl-C does not wait for retries
    await t.client
      .send(new AbortMultipartUploadCommand({ Bucket: t.bucket, Key, UploadId }), { abortSignal: AbortSignal.timeout(10_000) })
      .catch(() => {
        if (typeof e === 'object' && e !== null) unaborted.add(e);
      });
    throw e;
  }
}

/** Sends every part, QUEUE_SIZE at a time; the first failure stops the others and is thrown. */
async function uploadParts(
  t: MultipartTarget,
  Key: string,
  UploadId: string,
  body: PartsBody,
  signal: AbortSignal | undefined,
  onRetry: () => void,
): Promise<CompletedPart[]> {
  const count = Math.ceil(body.length / t.partSize);
  const parts: CompletedPart[] = new Array<CompletedPart>(count);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (next < count && !failed) {
      const i = next++;
      const part = body.slice(i * t.partSize, Math.min(body.length, (i + 1) * t.partSize));
      try {
        const out = await t.withChecksums(part, (checksums) =>
          t.send<UploadPartCommandOutput>(
            new UploadPartCommand({
              Bucket: t.bucket,
              Key,
              UploadId,
              PartNumber: i + 1,
              // sent by the client's PartsBody middleware (s3-body.ts)
              Body: part as never,
              ContentLength: part.length,
              ...checksums,
            }),
            signal,
            onRetry,
          ),
        );
        if (!out.ETag) throw new MqbakError('unreachable', `${t.description}: the server answered part ${i + 1} of ${Key} without an ETag`);
        parts[i] = { PartNumber: i + 1, ETag: out.ETag, ...(out.ChecksumCRC32 ? { ChecksumCRC32: out.ChecksumCRC32 } : {}) };
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  // every worker settles before the caller aborts the upload, so no part lands after the abort
  const settled = await Promise.allSettled(Array.from({ length: Math.min(QUEUE_SIZE, count) }, worker));
  const rejected = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return parts;
}
