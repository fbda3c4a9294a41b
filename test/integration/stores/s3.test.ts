import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { isMqbakError, type MqbakError } from '../../../src/common/errors.js';
import { openS3Store } from '../../../src/stores/s3.js';
import type { Store } from '../../../src/stores/store.js';
import { storeContract } from '../../contract/store-contract.js';
import { createBucket, incompleteUploads, s3Client, s3Servers, s3rverServer, uniqueName, type S3TestServer } from '../../helpers/brokers.js';

/**
 * Each server's tests run one after the other in this file: the store takes credentials from the
 * standard AWS chain, as in production, and they are set for the server whose tests run.
 */
function useCredentials(server: S3TestServer): void {
  beforeAll(() => {
    process.env.AWS_ACCESS_KEY_ID = server.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = server.credentials.secretAccessKey;
  });
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

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

describe.each(s3Servers())('S3 store on $name', (server: S3TestServer) => {
  useCredentials(server);
  const config = () => ({ endpoint: server.endpoint, forcePathStyle: true, checksum: 'when-required' as const });
  const rawClient = () => s3Client(server);
  let bucket: string;
  beforeAll(async () => {
    bucket = uniqueName('mqbak-s3');
    await createBucket(bucket, server);
  });

  storeContract(
    `s3 (${server.name})`,
    async () => {
      const store = await openS3Store(bucket, uniqueName('contract'), config());
      return { store, cleanup: () => store.close() };
    },
    // s3rver ignores If-None-Match: there write-once is checked before writing, not atomically
    { atomicWriteOnce: server.conditionalWrites },
  );

  it('uploads a 20 MiB body as multipart and reads back the same bytes under the prefix', async () => {
    const prefix = uniqueName('multi');
    const store = await openS3Store(bucket, prefix, config());
    const body = new Uint8Array(20 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 2654435761) >>> 24;
    expect(await store.put('seg/big', body)).toMatchObject({ key: 'seg/big', size: body.length });
    const raw = await rawClient();
    const out = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/seg/big` }));
    const stored = await out.Body!.transformToByteArray();
    expect(stored.length).toBe(body.length);
    expect(Buffer.compare(Buffer.from(stored), Buffer.from(body))).toBe(0);
    const part = await store.get('seg/big', { range: { start: 9 * 1024 * 1024 - 3, end: 9 * 1024 * 1024 + 5 } });
    expect(Buffer.from(part)).toEqual(Buffer.from(body.subarray(9 * 1024 * 1024 - 3, 9 * 1024 * 1024 + 5)));
    raw.destroy();
    await store.close();
    // a completed upload leaves no incomplete one behind (s3rver cannot list them)
    if (server.abortsMultipart) expect(await incompleteUploads(server, bucket, `${prefix}/`)).toEqual([]);
  });

  it('with when-required the stored object is exactly the bytes put (no checksum trailers inside)', async () => {
    const prefix = uniqueName('sum');
    const store = await openS3Store(bucket, prefix, config());
    const body = new TextEncoder().encode('exactly these bytes');
    await store.put('k', body);
    const raw = await rawClient();
    const out = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/k` }));
    expect(Buffer.from(await out.Body!.transformToByteArray()).toString()).toBe('exactly these bytes');
    raw.destroy();
    await store.close();
  });

  it('lists more than one page (1000 keys) in order', async () => {
    const prefix = uniqueName('page');
    const store = await openS3Store(bucket, prefix, config());
    const raw = await rawClient();
    const keys = Array.from({ length: 1105 }, (_, i) => `p/${String(i).padStart(5, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => raw.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}/${k}`, Body: 'x' }))));
    }
    raw.destroy();
    const seen: string[] = [];
    for await (const o of store.list('p/')) seen.push(o.key);
    expect(seen).toEqual(keys);
    await store.close();
  }, 120_000);

  it('a missing bucket is a clear error (not found, exit 10), naming the bucket, without credentials', async () => {
    const store = await openS3Store(uniqueName('nobucket'), 'x', config());
    const c = await errorOf(store.check('read'));
    expect(c.code).toBe('not-found');
    expect(c.message).toMatch(/bucket nobucket-\S+ does not exist/);
    expect((await errorOf(store.check('write'))).code).toBe('not-found');
    const e = await errorOf(store.put('k', new Uint8Array(1)));
    expect(e.code).toBe('not-found');
    expect(e.message).toMatch(/bucket nobucket-\S+ does not exist/);
    expect(e.message).not.toContain(server.credentials.secretAccessKey === 'S3RVER' ? 'S3RVER:' : server.credentials.secretAccessKey);
    const l = await errorOf((async () => {
      for await (const _ of store.list('')) void _;
    })());
    expect(l.code).toBe('not-found');
    await store.close();
  });

  it('with the SDK default checksums (when-supported), single and multipart puts store exactly the bytes sent', async () => {
    // in-memory bodies get checksum headers, not aws-chunked trailers: nothing lands inside the object
    const prefix = uniqueName('default-sum');
    const store = await openS3Store(bucket, prefix, { endpoint: server.endpoint, forcePathStyle: true });
    const small = new TextEncoder().encode('small body');
    const big = new Uint8Array(18 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    await store.put('small', small);
    await store.put('big', big);
    const raw = await rawClient();
    for (const [key, body] of [['small', small], ['big', big]] as const) {
      const out = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}/${key}` }));
      expect(Buffer.from(await out.Body!.transformToByteArray()).equals(Buffer.from(body))).toBe(true);
    }
    raw.destroy();
    await store.close();
    if (server.abortsMultipart) expect(await incompleteUploads(server, bucket, `${prefix}/`)).toEqual([]);
  });

  it('an unknown access key is refused with exit 5 and a hint, and the secret is in no message', async () => {
    // (a wrong secret with a known key id: see s3-signatures.test.ts, on the gateway)
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    const secret = 'not-the-secret-Xq7Lz';
    process.env.AWS_ACCESS_KEY_ID = 'NOSUCHKEYID';
    process.env.AWS_SECRET_ACCESS_KEY = secret;
    try {
      const store = await openS3Store(bucket, 'x', config());
      const e = await errorOf(store.put('k', new Uint8Array(3)));
      expect(e.code).toBe('unreachable');
      expect(e.retriable).toBe(false);
      // the put starts with a HeadObject, whose 403 has no body to name the error
      expect(e.message).toMatch(/access denied \((InvalidAccessKeyId|HTTP 403)\)/);
      expect(e.hint).toMatch(/credentials/);
      expect(`${e.message} ${e.hint}`).not.toContain(secret);
      const l = await errorOf((async () => {
        for await (const _ of store.list('')) void _;
      })());
      expect(l.code).toBe('unreachable');
      expect(l.message).toMatch(/list \(all\): access denied \(InvalidAccessKeyId\)/);
      await store.close();
    } finally {
      process.env.AWS_ACCESS_KEY_ID = saved.id;
      process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });

});

describe('S3 store and a server that is not there', () => {
  const bucket = 'mqbak-absent';
  useCredentials(s3rverServer());

  it('a server that is not there is unreachable after retries, in bounded time', async () => {
    const port = await freePort();
    const store = await openS3Store(bucket, 'x', { endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, checksum: 'when-required', maxAttempts: 2 });
    const started = Date.now();
    const e = await errorOf(store.put('k', new Uint8Array(1)));
    expect(e.code).toBe('unreachable');
    expect(e.retriable).toBe(true);
    expect(e.message).toMatch(/ECONNREFUSED.*gave up after 2 attempts/);
    expect(e.hint).toMatch(/endpoint/);
    expect(Date.now() - started).toBeLessThan(30_000);
    await store.close();
  });

  it('a server that comes back within the retries is used (transient failure retried)', async () => {
    const port = await freePort();
    const dir = (await import('node:fs/promises')).mkdtemp((await import('node:os')).tmpdir() + '/mqbak-s3rver-');
    const store: Store = await openS3Store(bucket, 'late', { endpoint: `http://127.0.0.1:${port}`, forcePathStyle: true, checksum: 'when-required', maxAttempts: 6 });
    // start s3rver about a second after the first attempt
    const server = new Promise<ReturnType<typeof spawn>>((resolve) =>
      setTimeout(async () => {
        const child = spawn(process.execPath, ['--openssl-legacy-provider', 'node_modules/s3rver/bin/s3rver.js', '-d', await dir, '-a', '127.0.0.1', '-p', String(port), '--silent', '--configure-bucket', bucket], { stdio: 'ignore' });
        resolve(child);
      }, 800),
    );
    try {
      const info = await store.stat('nothing-here');
      expect(info).toBeNull();
    } finally {
      (await server).kill('SIGKILL');
      await store.close();
    }
  });
});
