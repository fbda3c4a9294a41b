/**
 * After an upload: the stored size must be what was sent, and so must every checksum the
 * server reports that mqbak can compute (servers that report none, like s3rver, are checked on
 * size alone; every upload was also signed with its SHA-256, which servers like AWS S3 and Ceph
 * RGW check on receipt). The size
 * check also catches the SDK's aws-chunked checksum trailers stored inside the object by servers
 * that do not understand them.
 */
import type { HeadObjectCommandOutput } from '@aws-sdk/client-s3';
import { MqbakError } from '../common/errors.js';
import { PartsBody, type Bytes } from './s3-body.js';
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
 * from `sent` (one buffer or its parts): 'integrity' when it differs. `partSize` is the multipart
 * part size, for composite checksums of a multipart upload.
 */
export function checkUploaded(head: HeadObjectCommandOutput, key: string, sent: Bytes, multipart: boolean, partSize: number, description: string): void {
  const body = new PartsBody(sent);
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
    const expected = composite ? compositeChecksum(algorithm, body.parts, partSize) : fullObjectChecksum(algorithm, body.parts);
    if (reported !== expected) {
      throw new MqbakError('integrity', `${description}: object ${key} has ${algorithm} ${reported} after upload, the bytes sent have ${expected}`, {
        retriable: true,
      });
    }
  }
}
