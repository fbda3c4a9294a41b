/**
 * After an upload: the stored size must be what was sent, and so must every checksum the
 * server reports that mqbak can compute (servers that report none, like s3rver, are checked on
 * size alone; single puts also carried Content-MD5, checked by the server on receipt). The size
 * check also catches the SDK's aws-chunked checksum trailers stored inside the object by servers
 * that do not understand them.
 */
import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { MqbakError } from '../common/errors.js';
import { compositeChecksum, fullObjectChecksum, type S3ChecksumAlgorithm } from './s3-checksums.js';

const CHECKSUM_FIELDS = [
  ['CRC64NVME', 'ChecksumCRC64NVME'],
  ['CRC32', 'ChecksumCRC32'],
  ['CRC32C', 'ChecksumCRC32C'],
  ['SHA256', 'ChecksumSHA256'],
  ['SHA1', 'ChecksumSHA1'],
] as const satisfies ReadonlyArray<readonly [S3ChecksumAlgorithm, keyof HeadObjectCommandOutput]>;

/**
 * Checks what HeadObject (with ChecksumMode ENABLED) says of the object `key` just uploaded
 * from `body`: 'integrity' when it differs. `partSize` is the multipart part size, for composite
 * checksums of a multipart upload.
 */
export function checkUploaded(head: HeadObjectCommandOutput, key: string, body: Uint8Array, multipart: boolean, partSize: number, description: string): void {
  const size = head.ContentLength ?? 0;
  if (size !== body.length) {
    throw new MqbakError('integrity', `${description}: object ${key} holds ${size} bytes after uploading ${body.length}`, {
      hint: "servers that do not understand the SDK's checksum trailers store them in the object: try --s3-checksum when-required",
    });
  }
  for (const [algorithm, field] of CHECKSUM_FIELDS) {
    const reported = head[field];
    if (typeof reported !== 'string' || reported === '') continue;
    const composite = /-\d+$/.test(reported);
    // a composite checksum is over the parts as uploaded: only ours (known part size) can be recomputed
    if (composite && !multipart) continue;
    const expected = composite ? compositeChecksum(algorithm, body, partSize) : fullObjectChecksum(algorithm, body);
    if (reported !== expected) {
      throw new MqbakError('integrity', `${description}: object ${key} has ${algorithm} ${reported} after upload, the bytes sent have ${expected}`, {
        retriable: true,
      });
    }
  }
}

/** Whether two byte arrays hold the same bytes. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;
}
