import { describe, expect, it } from 'vitest';
import { compositeChecksum, fullObjectChecksum } from '../../../src/stores/s3-checksums.js';
import { checkUploaded } from '../../../src/stores/s3-read-back.js';

const body = new Uint8Array(1000).map((_, i) => i % 251);

describe('checkUploaded', () => {
  it('accepts the size and every checksum it can recompute', () => {
    expect(() => checkUploaded({ ContentLength: 1000, ChecksumCRC32: fullObjectChecksum('CRC32', body), ChecksumSHA256: fullObjectChecksum('SHA256', body) } as never, 'k', body, false, 300, 'S')).not.toThrow();
    // a composite checksum is recomputed for mqbak's own multipart uploads (known part size)
    expect(() => checkUploaded({ ContentLength: 1000, ChecksumCRC32: compositeChecksum('CRC32', body, 300) } as never, 'k', body, true, 300, 'S')).not.toThrow();
    // and skipped for a single put, where the server made the parts
    expect(() => checkUploaded({ ContentLength: 1000, ChecksumCRC32: 'AAAAAA==-3' } as never, 'k', body, false, 300, 'S')).not.toThrow();
  });

  it('takes the bytes sent as parts, whose boundaries are not the upload parts', () => {
    const parts = [body.subarray(0, 123), body.subarray(123, 700), body.subarray(700)];
    expect(() => checkUploaded({ ContentLength: 1000, ChecksumCRC64NVME: fullObjectChecksum('CRC64NVME', body), ChecksumSHA1: fullObjectChecksum('SHA1', body) } as never, 'k', parts, false, 300, 'S')).not.toThrow();
    expect(() => checkUploaded({ ContentLength: 1000, ChecksumCRC32C: compositeChecksum('CRC32C', body, 300) } as never, 'k', parts, true, 300, 'S')).not.toThrow();
    expect(() => checkUploaded({ ContentLength: 1000, ChecksumCRC32C: compositeChecksum('CRC32C', body, 400) } as never, 'k', parts, true, 300, 'S')).toThrow(expect.objectContaining({ code: 'integrity' }));
  });

  it('refuses another size (with the checksum-trailer hint) and another checksum', () => {
    expect(() => checkUploaded({ ContentLength: 1040 } as never, 'k', body, false, 300, 'S')).toThrow(
      expect.objectContaining({ code: 'integrity', message: 'S: object k holds 1040 bytes after uploading 1000', hint: expect.stringMatching(/when-required/) }),
    );
    expect(() => checkUploaded({ ContentLength: 1000, ChecksumCRC32C: fullObjectChecksum('CRC32C', body.subarray(1)) } as never, 'k', body, false, 300, 'S')).toThrow(
      expect.objectContaining({ code: 'integrity', retriable: true }),
    );
  });
});
