/**
 * A body given as parts goes to the server as those parts: every byte the S3 store hands to
 * Node's HTTP client for an upload is a view of the caller's chunks (their own memory, not a
 * joined copy), and each request still carries the signed SHA-256 payload hash (the caller's
 * when it gives one), with flexible checksums the CRC32, and with contentMd5 the Content-MD5, of
 * exactly the bytes it sends (without it, no Content-MD5: s3-faults.test.ts has the server that asks). Watched at the boundary
 * between the SDK and Node: ClientRequest.write and end, on a real server.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { crc32 } from 'node:zlib';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { openS3Store } from '../../../src/stores/s3.js';
import type { S3Config } from '../../../src/stores/s3-config.js';
import { createBucket, s3Servers, uniqueName, type S3TestServer } from '../../helpers/brokers.js';
import { pseudoRandomBytes } from '../../helpers/random.js';

const MiB = 1024 * 1024;

interface Upload {
  method: string;
  path: string;
  headers: Record<string, string>;
  written: Uint8Array[];
}

/** Every request made while `run` runs, with the bytes written into it. */
async function watchRequests(run: () => Promise<void>): Promise<Upload[]> {
  const byRequest = new Map<http.ClientRequest, Upload>();
  const seen = (req: http.ClientRequest, chunk: unknown) => {
    let u = byRequest.get(req);
    if (!u) {
      const headers: Record<string, string> = {};
      for (const name of req.getHeaderNames()) headers[name] = String(req.getHeader(name));
      u = { method: req.method, path: req.path, headers, written: [] };
      byRequest.set(req, u);
    }
    if (chunk instanceof Uint8Array && chunk.length > 0) u.written.push(chunk);
  };
  const write = vi.spyOn(http.ClientRequest.prototype, 'write');
  const end = vi.spyOn(http.ClientRequest.prototype, 'end');
  try {
    await run();
    // (restoring the methods clears what the spies saw)
    write.mock.calls.forEach((args, i) => seen(write.mock.contexts[i] as http.ClientRequest, args[0]));
    end.mock.calls.forEach((args, i) => seen(end.mock.contexts[i] as http.ClientRequest, args[0]));
    return [...byRequest.values()];
  } finally {
    write.mockRestore();
    end.mockRestore();
  }
}

/** Chunks of their own memory each, as the segment builder hands a segment over. */
function chunks(count: number, size: number, last: number): Uint8Array[] {
  return [...Array.from({ length: count }, (_, i) => pseudoRandomBytes(size, i + 1)), pseudoRandomBytes(last, 99)];
}

const hex = (algorithm: string, parts: Uint8Array[]) => parts.reduce((h, p) => h.update(p), createHash(algorithm)).digest();
const crc32b64 = (parts: Uint8Array[]) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(parts.reduce((c, p) => crc32(p, c), 0));
  return b.toString('base64');
};

/** Checks one upload request: its bytes are views of the chunks, and its headers describe them. */
function expectFromChunks(u: Upload, owners: Set<ArrayBufferLike>, flexible: boolean, md5: boolean): number {
  const size = u.written.reduce((n, w) => n + w.length, 0);
  expect(Number(u.headers['content-length'])).toBe(size);
  for (const w of u.written) {
    expect(owners.has(w.buffer), `a ${w.length}-byte write of ${u.path} is not a view of the caller's chunks`).toBe(true);
  }
  expect(u.headers['x-amz-content-sha256']).toBe(hex('sha256', u.written).toString('hex'));
  expect(u.headers['content-md5']).toBe(md5 ? hex('md5', u.written).toString('base64') : undefined);
  expect(u.headers['content-encoding'] ?? '').not.toContain('aws-chunked');
  // the body goes with the headers: no round trip waiting for '100 Continue' (the SDK's default from 2 MB)
  expect(u.headers['expect']).toBeUndefined();
  if (flexible) expect(u.headers['x-amz-checksum-crc32']).toBe(crc32b64(u.written));
  else expect(u.headers['x-amz-checksum-crc32']).toBeUndefined();
  return size;
}

describe.each(s3Servers())('S3 uploads of parts on $name', (server: S3TestServer) => {
  let bucket: string;
  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID = server.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
    bucket = uniqueName('mqbak-parts');
    await createBucket(bucket, server);
  });
  afterEach(() => vi.restoreAllMocks());

  const settings = [
    { mode: 'when-required', config: { checksum: 'when-required' }, flexible: false, md5: false },
    { mode: 'when-supported', config: {}, flexible: true, md5: false },
    { mode: 'when-required, Content-MD5', config: { checksum: 'when-required', contentMd5: true }, flexible: false, md5: true },
    { mode: 'when-supported, Content-MD5', config: { contentMd5: true }, flexible: true, md5: true },
  ] as const;

  it.each(settings)('a single put ($mode) sends the chunks themselves, no joined copy', async ({ config, flexible, md5 }) => {
    const store = await openS3Store(bucket, uniqueName('single'), { endpoint: server.endpoint, forcePathStyle: true, ...(config as S3Config) });
    const parts = chunks(3, MiB, 4321);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const requests = await watchRequests(async () => {
      expect(await store.put('seg/one', parts)).toMatchObject({ size: total });
    });
    const puts = requests.filter((r) => r.method === 'PUT' && r.path.includes('/seg/one'));
    expect(puts.length).toBe(1);
    // three requests for the object: HeadObject before (it must not exist), PutObject, HeadObject after (read-back)
    expect(requests.filter((r) => r.path.includes('/seg/one')).map((r) => r.method).sort()).toEqual(['HEAD', 'HEAD', 'PUT']);
    expect(expectFromChunks(puts[0]!, new Set(parts.map((p) => p.buffer)), flexible, md5)).toBe(total);
    // the largest single write is one chunk, not the segment
    expect(Math.max(...puts[0]!.written.map((w) => w.length))).toBe(MiB);
    expect(Buffer.from(await store.get('seg/one')).equals(Buffer.concat(parts))).toBe(true);
    await store.close();
  });

  it.each(settings)("a single put ($mode) given the SHA-256 of its bytes is signed with it; the gateway refuses a wrong one", async ({ config, flexible, md5 }) => {
    const store = await openS3Store(bucket, uniqueName('given'), { endpoint: server.endpoint, forcePathStyle: true, ...(config as S3Config) });
    const parts = chunks(2, MiB, 777);
    const sha256 = hex('sha256', parts).toString('hex');
    const requests = await watchRequests(async () => {
      await store.put('seg/given', parts, { sha256 });
    });
    const puts = requests.filter((r) => r.method === 'PUT' && r.path.includes('/seg/given'));
    expect(puts.length).toBe(1);
    expectFromChunks(puts[0]!, new Set(parts.map((p) => p.buffer)), flexible, md5);
    expect(puts[0]!.headers['x-amz-content-sha256']).toBe(sha256);
    // s3rver checks no payload hash (nor Content-MD5); the Ceph gateway checks both
    if (server.name === 'ceph-rgw') {
      await expect(store.put('seg/wrong', parts, { sha256: 'ab'.repeat(32) })).rejects.toMatchObject({ code: 'integrity', message: expect.stringContaining('XAmzContentSHA256Mismatch') });
      expect(await store.stat('seg/wrong')).toBeNull();
    }
    await store.close();
  });

  it.each(settings)('a multipart upload ($mode) sends each part as views of the chunks it spans', async ({ config, flexible, md5 }) => {
    // chunks of 1 MiB + 3 bytes: every 5 MiB part boundary falls inside a chunk
    const store = await openS3Store(bucket, uniqueName('multi'), { endpoint: server.endpoint, forcePathStyle: true, ...(config as S3Config) }, { multipartThreshold: 6 * MiB, partSize: 5 * MiB });
    const parts = chunks(11, MiB + 3, 1000);
    const total = parts.reduce((n, p) => n + p.length, 0);
    const requests = await watchRequests(async () => {
      expect(await store.put('seg/multi', parts)).toMatchObject({ size: total });
    });
    const uploads = requests.filter((r) => r.method === 'PUT' && r.path.includes('partNumber='));
    expect(uploads.length).toBe(3);
    const owners = new Set(parts.map((p) => p.buffer));
    const sizes = uploads.map((u) => expectFromChunks(u, owners, flexible, md5)).sort((a, b) => b - a);
    expect(sizes).toEqual([5 * MiB, 5 * MiB, total - 10 * MiB]);
    expect(Buffer.from(await store.get('seg/multi')).equals(Buffer.concat(parts))).toBe(true);
    await store.close();
  }, 60_000);
});
