/**
 * The S3 store against servers that misbehave in the ways real ones do: a stored size or
 * checksum that differs from what was sent, an answer lost after the object was stored, a part
 * that keeps failing, If-None-Match not implemented, a server that accepts and never answers.
 * A small HTTP proxy in front of each test S3 server (s3rver, and the Ceph RADOS Gateway when
 * the set-up runs one) injects each fault; everything else is the server's own answer. The proxy
 * keeps the Host header, so the gateway checks the client's V4 signatures as they were made.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { crc32 } from 'node:zlib';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isMqbakError, type MqbakError } from '../../../src/common/errors.js';
import { openS3Store, type S3StoreTuning } from '../../../src/stores/s3.js';
import type { S3Config } from '../../../src/stores/open.js';
import type { Store } from '../../../src/stores/store.js';
import { createBucket, incompleteUploads, s3Servers, uniqueName, type S3TestServer } from '../../helpers/brokers.js';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

type Action =
  | { kind: 'forward' }
  /** forward to the server, then cut the client's connection instead of answering */
  | { kind: 'forward-then-drop' }
  | { kind: 'answer'; status: number; code: string; message?: string };

interface Faults {
  onRequest?: (r: Seen) => Action | Promise<Action>;
  /** may change the headers of a HeadObject answer that found the object */
  onHeadFound?: (r: Seen, headers: http.OutgoingHttpHeaders) => void;
}

let server: S3TestServer;
let bucket: string;
let faults: Faults = {};
const seen: Seen[] = [];
let proxy: http.Server;
let proxyEndpoint: string;
let upstream: http.Agent;
const stores: Store[] = [];

function errorXml(code: string, message = 'injected by the test proxy'): string {
  return `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}

/** Hooks of one server's run: its bucket, the proxy in front of it, its credentials. */
function useServer(s: S3TestServer): void {
  beforeAll(async () => {
    server = s;
    // the store takes credentials from the standard AWS chain, as in production
    process.env.AWS_ACCESS_KEY_ID = s.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s.credentials.secretAccessKey;
    bucket = uniqueName('mqbak-faults');
    await createBucket(bucket, s);
    const target = new URL(s.endpoint);
    // no idle connections kept to the server: the gateway holds them open long after the tests,
    // and they kept the test worker from exiting
    upstream = new http.Agent({ keepAlive: false });
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const r: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: Buffer.concat(chunks) };
        seen.push(r);
        const action = (await faults.onRequest?.(r)) ?? { kind: 'forward' };
        if (action.kind === 'answer') {
          const body = errorXml(action.code, action.message);
          res.writeHead(action.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
          res.end(req.method === 'HEAD' ? undefined : body);
          return;
        }
        const headers = { ...req.headers };
        delete headers.expect;
        const up = http.request(
          { host: target.hostname, port: target.port, method: req.method, path: req.url, headers, agent: upstream },
          (upRes) => {
            const out: Buffer[] = [];
            upRes.on('data', (c: Buffer) => out.push(c));
            upRes.on('end', () => {
              if (action.kind === 'forward-then-drop') {
                req.socket.destroy();
                return;
              }
              const h: http.OutgoingHttpHeaders = { ...upRes.headers };
              if (req.method === 'HEAD' && upRes.statusCode === 200) faults.onHeadFound?.(r, h);
              res.writeHead(upRes.statusCode ?? 502, h);
              res.end(req.method === 'HEAD' ? undefined : Buffer.concat(out));
            });
          },
        );
        up.on('error', () => req.socket.destroy());
        up.end(r.body);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyEndpoint = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
  });

  afterEach(async () => {
    faults = {};
    seen.length = 0;
    for (const s of stores.splice(0)) await s.close();
  });

  afterAll(async () => {
    proxy.closeAllConnections();
    await new Promise<void>((resolve) => proxy.close(() => resolve()));
    upstream.destroy();
  });
}

const fast: S3StoreTuning = { retryBaseMs: 20 };

async function store(config: Partial<S3Config> = {}, tuning: S3StoreTuning = fast): Promise<Store> {
  const s = await openS3Store(bucket, uniqueName('f'), { endpoint: proxyEndpoint, forcePathStyle: true, checksum: 'when-required', maxAttempts: 3, ...config }, tuning);
  stores.push(s);
  return s;
}

async function errorOf(p: Promise<unknown>): Promise<MqbakError> {
  try {
    await p;
  } catch (e) {
    if (isMqbakError(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

function bytes(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = ((i + seed) * 2654435761) >>> 24;
  return b;
}

function crc32b64(data: Uint8Array): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32(data));
  return b.toString('base64');
}

/** The key prefix of a store made by store(), from its description (s3://bucket/prefix at host). */
const prefixOf = (s: Store): string => `${s.description.replace(/^s3:\/\/[^/]+\//, '').split(' ')[0]!}/`;

const isObjectPut = (r: Seen, key: string) => r.method === 'PUT' && r.url.split('?')[0]!.endsWith(`/${key}`) && !r.url.includes('partNumber=');

describe.each(s3Servers())('S3 store against a misbehaving server ($name behind a proxy)', (s3: S3TestServer) => {
  useServer(s3);

  it('a stored size other than the bytes sent fails the put with an integrity error naming --s3-checksum', async () => {
    const s = await store();
    faults.onHeadFound = (_r, h) => {
      h['content-length'] = String(Number(h['content-length']) + 7);
    };
    const e = await errorOf(s.put('seg/a', bytes(1000, 1)));
    expect(e.code).toBe('integrity');
    expect(e.message).toContain('holds 1007 bytes after uploading 1000');
    expect(e.hint).toContain('--s3-checksum when-required');
  });

  it('a full-object checksum the server reports is compared with the bytes sent', async () => {
    const s = await store();
    const body = bytes(5000, 2);
    faults.onHeadFound = (_r, h) => {
      h['x-amz-checksum-crc32'] = crc32b64(body);
      h['x-amz-checksum-type'] = 'FULL_OBJECT';
    };
    expect(await s.put('good', body)).toMatchObject({ key: 'good', size: 5000 });
    // the HeadObject after the upload asked for checksums
    expect(seen.some((r) => r.method === 'HEAD' && r.headers['x-amz-checksum-mode'] === 'ENABLED')).toBe(true);

    const other = bytes(5000, 3);
    const e = await errorOf(s.put('bad', other));
    expect(e.code).toBe('integrity');
    expect(e.message).toMatch(/object bad has CRC32 \S+ after upload, the bytes sent have \S+/);
  });

  it('a multipart upload is checked against its composite and its full-object checksum', async () => {
    const MiB = 1024 * 1024;
    const tuning = { ...fast, multipartThreshold: 6 * MiB, partSize: 5 * MiB };
    const s = await store({}, tuning);
    const body = bytes(12 * MiB, 4);
    const parts = [body.subarray(0, 5 * MiB), body.subarray(5 * MiB, 10 * MiB), body.subarray(10 * MiB)];
    const joined = Buffer.concat(parts.map((p) => Buffer.from(crc32b64(p), 'base64')));
    faults.onHeadFound = (_r, h) => {
      h['x-amz-checksum-crc32'] = `${crc32b64(joined)}-3`;
      h['x-amz-checksum-type'] = 'COMPOSITE';
    };
    expect(await s.put('multi', body)).toMatchObject({ key: 'multi', size: body.length });
    expect(seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber=')).length).toBe(3);

    faults.onHeadFound = (_r, h) => {
      h['x-amz-checksum-crc32'] = crc32b64(body);
    };
    expect((await s.put('multi-full', body)).size).toBe(body.length);

    // the composite of other part boundaries is not what was uploaded
    faults.onHeadFound = (_r, h) => {
      h['x-amz-checksum-crc32'] = `${crc32b64(Buffer.concat([parts[0]!, parts[1]!].map((p) => Buffer.from(crc32b64(p), 'base64'))))}-2`;
    };
    const e = await errorOf(s.put('multi-bad', body));
    expect(e.code).toBe('integrity');
  }, 60_000);

  it('an answer lost after the object was stored: the retry meets If-None-Match, reads the object back and succeeds', async () => {
    const s = await store();
    const body = bytes(3000, 5);
    let puts = 0;
    faults.onRequest = (r) => {
      if (!isObjectPut(r, 'seg/lost')) return { kind: 'forward' };
      puts++;
      if (puts === 1) return { kind: 'forward-then-drop' };
      // this proxy honours If-None-Match, as AWS S3 does
      expect(r.headers['if-none-match']).toBe('*');
      return { kind: 'answer', status: 412, code: 'PreconditionFailed' };
    };
    expect(await s.put('seg/lost', body)).toMatchObject({ key: 'seg/lost', size: 3000 });
    expect(puts).toBe(2);
    expect(Buffer.from(await s.get('seg/lost')).equals(Buffer.from(body))).toBe(true);
  });

  it('If-None-Match refused on the first attempt (another writer got there in between) is code exists', async () => {
    const s = await store();
    faults.onRequest = (r) => (isObjectPut(r, 'taken') ? { kind: 'answer', status: 412, code: 'PreconditionFailed' } : { kind: 'forward' });
    const e = await errorOf(s.put('taken', bytes(10, 6)));
    expect(e.code).toBe('exists');
  });

  it('the same after a retry, but the object holds other bytes: code exists', async () => {
    const s = await store();
    // someone else's object under the key, written behind the proxy's back between the attempts
    const writer = await openS3Store(bucket, '', { endpoint: server.endpoint, forcePathStyle: true, checksum: 'when-required' });
    stores.push(writer);
    const key = `${s.description.replace(/^s3:\/\/[^/]+\//, '').split(' ')[0]!}/raced`;
    let puts = 0;
    faults.onRequest = async (r) => {
      if (!isObjectPut(r, 'raced')) return { kind: 'forward' };
      puts++;
      if (puts === 1) return { kind: 'answer', status: 503, code: 'SlowDown' };
      await writer.put(key, bytes(10, 8));
      return { kind: 'answer', status: 412, code: 'PreconditionFailed' };
    };
    const e = await errorOf(s.put('raced', bytes(10, 7)));
    expect(puts).toBe(2);
    expect(e.code).toBe('exists');
    // and the other writer's object is left as it was
    expect(Buffer.from(await s.get('raced')).equals(Buffer.from(bytes(10, 8)))).toBe(true);
  });

  it('throttling (503 SlowDown) is retried', async () => {
    const s = await store();
    let puts = 0;
    faults.onRequest = (r) => (isObjectPut(r, 'slow') && ++puts <= 2 ? { kind: 'answer', status: 503, code: 'SlowDown' } : { kind: 'forward' });
    expect((await s.put('slow', bytes(100, 9))).size).toBe(100);
    expect(puts).toBe(3);
  });

  it('a retried put and a retried part send all their bytes again, from the parts given', async () => {
    const MiB = 1024 * 1024;
    const s = await store({}, { ...fast, multipartThreshold: 6 * MiB, partSize: 5 * MiB });
    // chunks of their own memory, as a backup hands a segment over; part 2 spans four of them
    const small = [bytes(1000, 20), bytes(2000, 21)];
    const big = Array.from({ length: 12 }, (_, i) => bytes(MiB + 3, 30 + i));
    const failed = new Set<string>();
    faults.onRequest = (r) => {
      const which = r.url.includes('partNumber=2') ? 'part 2' : isObjectPut(r, 'small') ? 'small' : undefined;
      if (which === undefined || failed.has(which)) return { kind: 'forward' };
      failed.add(which);
      return { kind: 'answer', status: 500, code: 'InternalError' };
    };
    expect((await s.put('small', small)).size).toBe(3000);
    expect((await s.put('big', big)).size).toBe(12 * (MiB + 3));
    const sent = (which: (r: Seen) => boolean) => seen.filter(which).map((r) => r.body);
    const smallSent = sent((r) => isObjectPut(r, 'small'));
    const partSent = sent((r) => r.method === 'PUT' && r.url.includes('partNumber=2'));
    expect(smallSent.length).toBe(2);
    expect(partSent.length).toBe(2);
    for (const b of smallSent) expect(b.equals(Buffer.concat(small))).toBe(true);
    for (const b of partSent) expect(b.equals(Buffer.concat(big).subarray(5 * MiB, 10 * MiB))).toBe(true);
    faults = {};
    expect(Buffer.from(await s.get('small')).equals(Buffer.concat(small))).toBe(true);
    expect(Buffer.from(await s.get('big')).equals(Buffer.concat(big))).toBe(true);
  }, 60_000);

  it('a part that keeps failing: retried on its own, then the multipart upload is aborted and the put is unreachable (exit 5)', async () => {
    const MiB = 1024 * 1024;
    const s = await store({ maxAttempts: 2 }, { ...fast, multipartThreshold: 6 * MiB, partSize: 5 * MiB });
    faults.onRequest = (r) => (r.method === 'PUT' && r.url.includes('partNumber=2') ? { kind: 'answer', status: 500, code: 'InternalError' } : { kind: 'forward' });
    const e = await errorOf(s.put('broken', bytes(12 * MiB, 10)));
    expect(e.code).toBe('unreachable');
    expect(e.retriable).toBe(true);
    expect(e.message).toMatch(/put broken: server answered HTTP 500 \(InternalError\) \(gave up after 2 attempts\)/);
    const created = seen.filter((r) => r.method === 'POST' && /[?&]uploads(=|&|$)/.test(r.url)).length;
    const partTwo = seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber=2')).length;
    const aborted = seen.filter((r) => r.method === 'DELETE' && r.url.includes('uploadId=')).length;
    // the failing part was retried on its own; the one upload was then aborted
    expect(created).toBe(1);
    expect(partTwo).toBe(2);
    expect(aborted).toBe(1);
    faults = {};
    expect(await s.stat('broken')).toBeNull();
    if (server.abortsMultipart) {
      // the abort went through: nothing of the upload is left on the server
      expect(e.message).not.toContain('could not be aborted');
      expect(await incompleteUploads(server, bucket, prefixOf(s))).toEqual([]);
    } else {
      // s3rver does not implement AbortMultipartUpload (405): the message says the parts stay
      expect(e.message).toContain('could not be aborted');
    }
  }, 60_000);

  it('interrupted in the middle of a multipart upload: code interrupted at once, and the upload is aborted', async () => {
    const MiB = 1024 * 1024;
    const s = await store({}, { ...fast, multipartThreshold: 6 * MiB, partSize: 5 * MiB });
    const ac = new AbortController();
    faults.onRequest = async (r) => {
      if (r.method === 'PUT' && r.url.includes('partNumber=2')) {
        ac.abort();
        await new Promise((resolve) => setTimeout(resolve, 3000));
      }
      return { kind: 'forward' };
    };
    const started = Date.now();
    const e = await errorOf(s.put('cut', bytes(12 * MiB, 14), { signal: ac.signal }));
    expect(e.code).toBe('interrupted');
    expect(Date.now() - started).toBeLessThan(2500);
    expect(seen.some((r) => r.method === 'DELETE' && r.url.includes('uploadId='))).toBe(true);
    faults = {};
    expect(await s.stat('cut')).toBeNull();
    if (server.abortsMultipart) {
      // the held-back part reaches the server after the abort and is refused (NoSuchUpload):
      // wait for it, then nothing of the upload may be left
      await new Promise((resolve) => setTimeout(resolve, 3500));
      expect(await incompleteUploads(server, bucket, prefixOf(s))).toEqual([]);
    }
  }, 30_000);

  it('interrupted while waiting to retry: code interrupted without waiting out the backoff', async () => {
    const s = await store({ maxAttempts: 5 }, { retryBaseMs: 4000 });
    const ac = new AbortController();
    faults.onRequest = (r) => {
      if (r.method !== 'PUT') return { kind: 'forward' };
      setTimeout(() => ac.abort(), 100);
      return { kind: 'answer', status: 503, code: 'SlowDown' };
    };
    const started = Date.now();
    const e = await errorOf(s.put('wait', bytes(10, 15), { signal: ac.signal }));
    expect(e.code).toBe('interrupted');
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('uploads carry no Content-MD5 until a server refuses one without it; then it is sent again with it, as is every upload after it', async () => {
    const MiB = 1024 * 1024;
    const s = await store({}, { ...fast, multipartThreshold: 6 * MiB, partSize: 5 * MiB });
    // as AWS S3 answers an upload into a bucket with Object Lock retention
    const objectLock = 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters';
    let refuse = false;
    faults.onRequest = (r) => (refuse && r.method === 'PUT' && !r.headers['content-md5'] ? { kind: 'answer', status: 400, code: 'InvalidRequest', message: objectLock } : { kind: 'forward' });
    const md5Of = (r: Seen) => r.headers['content-md5'];
    await s.put('plain', bytes(10, 1));
    expect(seen.filter((r) => r.method === 'PUT').map(md5Of)).toEqual([undefined]);
    seen.length = 0;
    refuse = true;
    const body = bytes(12 * MiB, 2);
    expect((await s.put('asked', body)).size).toBe(body.length);
    expect(Buffer.from(await s.get('asked')).equals(Buffer.from(body))).toBe(true);
    const parts = seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
    // each part refused once without it (they go up together), then sent with it
    expect(parts.filter((r) => md5Of(r) === undefined).length).toBeGreaterThanOrEqual(1);
    for (const r of parts.filter((p) => md5Of(p) !== undefined)) expect(md5Of(r)).toBe(createHash('md5').update(r.body).digest('base64'));
    expect(parts.filter((r) => md5Of(r) !== undefined).length).toBe(3);
    seen.length = 0;
    const small = bytes(100, 3);
    await s.put('after', small);
    expect(seen.filter((r) => r.method === 'PUT').map(md5Of)).toEqual([createHash('md5').update(small).digest('base64')]);
    // MQBAK_S3_CONTENT_MD5=1: from the first upload
    seen.length = 0;
    const always = await store({ contentMd5: true });
    await always.put('first', small);
    expect(seen.filter((r) => r.method === 'PUT').map(md5Of)).toEqual([createHash('md5').update(small).digest('base64')]);
  }, 60_000);

  it('a server answering If-None-Match with 501 Not Implemented is written to without it', async () => {
    const s = await store();
    faults.onRequest = (r) => (r.method === 'PUT' && r.headers['if-none-match'] ? { kind: 'answer', status: 501, code: 'NotImplemented' } : { kind: 'forward' });
    expect((await s.put('one', bytes(10, 11))).size).toBe(10);
    expect((await s.put('two', bytes(10, 12))).size).toBe(10);
    const puts = seen.filter((r) => r.method === 'PUT');
    // one refused conditional put, then plain puts only
    expect(puts.map((r) => Boolean(r.headers['if-none-match']))).toEqual([true, false, false]);
    // the HeadObject guard still keeps it write-once
    expect((await errorOf(s.put('one', bytes(10, 13)))).code).toBe('exists');
  });
});

describe('S3 store against a server that never answers', () => {
  it('a server that accepts connections and never answers times out and is unreachable', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const sockets: net.Socket[] = [];
    silent.on('connection', (c) => sockets.push(c));
    try {
      const s = await openS3Store('mqbak-silent', 'x', { endpoint: `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, forcePathStyle: true, maxAttempts: 2 }, { retryBaseMs: 20, socketTimeoutMs: 300, connectTimeoutMs: 300 });
      const started = Date.now();
      const e = await errorOf(s.stat('k'));
      expect(e.code).toBe('unreachable');
      expect(e.retriable).toBe(true);
      expect(e.message).toMatch(/gave up after 2 attempts/);
      expect(Date.now() - started).toBeLessThan(20_000);
      await s.close();
    } finally {
      for (const c of sockets) c.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
