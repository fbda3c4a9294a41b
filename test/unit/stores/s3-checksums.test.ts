import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PartsBody } from '../../../src/stores/s3-body.js';
import { compositeChecksum, crc32c, crc64nvme, fullObjectChecksum, uploadChecksums } from '../../../src/stores/s3-checksums.js';

const check = new TextEncoder().encode('123456789');

describe('S3 checksums', () => {
  // the catalogue "check" values of each CRC (reveng.sourceforge.io)
  it('CRC-32, CRC-32C and CRC-64/NVME give their catalogue check values for "123456789"', () => {
    expect(Buffer.from(fullObjectChecksum('CRC32', check), 'base64').toString('hex')).toBe('cbf43926');
    expect(crc32c(check).toString(16)).toBe('e3069283');
    expect(Buffer.from(fullObjectChecksum('CRC32C', check), 'base64').toString('hex')).toBe('e3069283');
    expect(crc64nvme(check).toString('hex')).toBe('ae8b14860a799888');
    expect(Buffer.from(fullObjectChecksum('CRC64NVME', check), 'base64').toString('hex')).toBe('ae8b14860a799888');
  });

  it('CRC-64/NVME of nothing and of one zero byte', () => {
    // init and xorout all ones: the empty input gives 0
    expect(crc64nvme(new Uint8Array(0)).toString('hex')).toBe('0000000000000000');
    expect(crc64nvme(new Uint8Array(1))).not.toEqual(crc64nvme(new Uint8Array(2)));
  });

  it("an upload's Content-MD5 and CRC32 are those of the parts joined, each only when asked", () => {
    const parts = [check.subarray(0, 4), new Uint8Array(0), check.subarray(4)];
    const md5 = createHash('md5').update(check).digest('base64');
    const crc = { ChecksumAlgorithm: 'CRC32', ChecksumCRC32: Buffer.from('cbf43926', 'hex').toString('base64') };
    expect(uploadChecksums(new PartsBody(parts), { crc32: false, md5: false })).toEqual({});
    expect(uploadChecksums(new PartsBody(parts), { crc32: false, md5: true })).toEqual({ ContentMD5: md5 });
    expect(uploadChecksums(new PartsBody(parts), { crc32: true, md5: false })).toEqual(crc);
    expect(uploadChecksums(new PartsBody(parts), { crc32: true, md5: true })).toEqual({ ContentMD5: md5, ...crc });
    expect(uploadChecksums(new PartsBody([]), { crc32: true, md5: true })).toEqual({ ContentMD5: createHash('md5').digest('base64'), ChecksumAlgorithm: 'CRC32', ChecksumCRC32: 'AAAAAA==' });
  });

  it('SHA checksums are base64 of the digest', () => {
    expect(fullObjectChecksum('SHA256', check)).toBe(createHash('sha256').update(check).digest('base64'));
    expect(fullObjectChecksum('SHA1', check)).toBe(createHash('sha1').update(check).digest('base64'));
  });

  it('a composite checksum is the checksum of the part digests, then -<parts>', () => {
    const data = new Uint8Array(10).map((_, i) => i * 7);
    const parts = [data.subarray(0, 4), data.subarray(4, 8), data.subarray(8)];
    const joined = Buffer.concat(parts.map((p) => createHash('sha256').update(p).digest()));
    expect(compositeChecksum('SHA256', data, 4)).toBe(`${createHash('sha256').update(joined).digest('base64')}-3`);
    expect(compositeChecksum('CRC32', data, 100)).toMatch(/-1$/);
  });

  it('every checksum of bytes given as parts is the checksum of the parts joined', () => {
    const data = new Uint8Array(3001).map((_, i) => (i * 131) & 0xff);
    const parts = [data.subarray(0, 1), new Uint8Array(0), data.subarray(1, 1024), data.subarray(1024)];
    for (const algorithm of ['CRC32', 'CRC32C', 'CRC64NVME', 'SHA1', 'SHA256'] as const) {
      expect(fullObjectChecksum(algorithm, parts), algorithm).toBe(fullObjectChecksum(algorithm, data));
      // composite parts of 1000 bytes cut across the given parts
      expect(compositeChecksum(algorithm, parts, 1000), algorithm).toBe(compositeChecksum(algorithm, data, 1000));
    }
    expect(crc32c(parts)).toBe(crc32c(data));
  });
});
