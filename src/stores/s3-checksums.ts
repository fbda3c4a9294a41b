/**
 * The checksums S3 may report for a stored object (HeadObject with ChecksumMode ENABLED), in
 * S3's own form (base64 of the big-endian digest), so that an upload can be compared with what
 * the server says it stored. AWS S3 gives every new object one: the one the client sent, or
 * CRC64NVME when it sent none (which is what --s3-checksum when-required does).
 */
import { createHash } from 'node:crypto';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { hashOf, PartsBody, type Bytes } from './s3-body.js';

export type S3ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'CRC64NVME' | 'SHA1' | 'SHA256';

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** CRC-32C (Castagnoli), reflected polynomial 0x82F63B78. */
const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

export function crc32c(data: Bytes): number {
  let c = 0xffffffff;
  for (const p of new PartsBody(data).parts) {
    for (let i = 0; i < p.length; i++) c = CRC32C_TABLE[(c ^ p[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/**
 * CRC-64/NVME (reflected polynomial 0x9A6C9329AC4BC9B5, init and xorout all ones), kept in two
 * 32-bit halves because BigInt per byte is far too slow for segments of tens of megabytes.
 */
const CRC64_TABLES = (() => {
  const hi = new Uint32Array(256);
  const lo = new Uint32Array(256);
  const poly = 0x9a6c9329ac4bc9b5n;
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    hi[i] = Number(c >> 32n);
    lo[i] = Number(c & 0xffffffffn);
  }
  return { hi, lo };
})();

/** The 8 big-endian bytes of the CRC-64/NVME of `data`. */
export function crc64nvme(data: Bytes): Buffer {
  const { hi: thi, lo: tlo } = CRC64_TABLES;
  let hi = 0xffffffff;
  let lo = 0xffffffff;
  for (const p of new PartsBody(data).parts) {
    for (let i = 0; i < p.length; i++) {
      const idx = (lo ^ p[i]!) & 0xff;
      lo = (((lo >>> 8) | (hi << 24)) ^ tlo[idx]!) >>> 0;
      hi = ((hi >>> 8) ^ thi[idx]!) >>> 0;
    }
  }
  const out = Buffer.alloc(8);
  out.writeUInt32BE((hi ^ 0xffffffff) >>> 0, 0);
  out.writeUInt32BE((lo ^ 0xffffffff) >>> 0, 4);
  return out;
}

/** The raw digest of `data` (one buffer or parts, one after the other) under `algorithm`. */
export function digest(algorithm: S3ChecksumAlgorithm, data: Bytes): Buffer {
  const parts = new PartsBody(data).parts;
  switch (algorithm) {
    case 'CRC32':
      return u32(parts.reduce((c, p) => zlibCrc32(p, c), 0));
    case 'CRC32C':
      return u32(crc32c(parts));
    case 'CRC64NVME':
      return crc64nvme(parts);
    case 'SHA1':
      return hashOf('sha1', parts);
    case 'SHA256':
      return hashOf('sha256', parts);
  }
}

/** S3's full-object checksum value: base64 of the digest. */
export function fullObjectChecksum(algorithm: S3ChecksumAlgorithm, data: Bytes): string {
  return digest(algorithm, data).toString('base64');
}

/**
 * S3's composite checksum of a multipart upload made of `partSize` parts (the last one
 * shorter): the checksum of the concatenated part digests, then `-<parts>`.
 */
export function compositeChecksum(algorithm: S3ChecksumAlgorithm, data: Bytes, partSize: number): string {
  const body = new PartsBody(data);
  const digests: Buffer[] = [];
  for (let at = 0; at < body.length; at += partSize) digests.push(digest(algorithm, body.slice(at, Math.min(body.length, at + partSize)).parts));
  return `${digest(algorithm, Buffer.concat(digests)).toString('base64')}-${digests.length}`;
}

/** The integrity headers of one upload request (PutObject or UploadPart), beside its signed SHA-256. */
export interface UploadChecksums {
  ContentMD5?: string;
  ChecksumAlgorithm?: 'CRC32';
  ChecksumCRC32?: string;
}

/** Which of them an upload carries: the CRC32 with flexible checksums on, Content-MD5 where a server asks for it. */
export interface ChecksumChoice {
  crc32: boolean;
  md5: boolean;
}

/**
 * The headers `choice` asks for, of `body`, in one pass over the parts: each part is read for
 * both while it is still in the CPU's cache.
 */
export function uploadChecksums(body: PartsBody, choice: ChecksumChoice): UploadChecksums {
  const md5 = choice.md5 ? createHash('md5') : null;
  let crc = 0;
  for (const p of body.parts) {
    md5?.update(p);
    if (choice.crc32) crc = zlibCrc32(p, crc);
  }
  const out: UploadChecksums = {};
  if (md5) out.ContentMD5 = md5.digest('base64');
  if (choice.crc32) {
    out.ChecksumAlgorithm = 'CRC32';
    out.ChecksumCRC32 = u32(crc).toString('base64');
  }
  return out;
}
