/**
 * The test harness's s3rver restart: what a SIGKILL in the middle of a PUT leaves behind makes
 * s3rver fail every later listing, and startOwnS3rver removes it first (tests that stop S3 in the
 * middle of a backup rely on this).
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { freePort, keysIn, s3Credentials, startOwnS3rver } from '../helpers/brokers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

describe('own s3rver restarted on the same folder', () => {
  it('drops an object whose metadata a kill left half written; without that, listings fail', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mqbak-s3rver-torn-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    let server = await startOwnS3rver(dir, port);
    cleanups.push(async () => void server.kill('SIGKILL'));
    const c = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: s3Credentials(), requestChecksumCalculation: 'WHEN_REQUIRED' });
    await c.send(new CreateBucketCommand({ Bucket: 'torn' }));
    await c.send(new PutObjectCommand({ Bucket: 'torn', Key: 'p/whole', Body: 'kept' }));
    await c.send(new PutObjectCommand({ Bucket: 'torn', Key: 'p/torn', Body: 'half' }));
    c.destroy();
    expect(await keysIn(endpoint, 'torn', 'p/')).toEqual(['p/torn', 'p/whole']);
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));

    // what a kill between writing the object and finishing its metadata file leaves
    const files = await readdir(path.join(dir, 'torn', 'p'));
    const meta = files.find((f) => f.startsWith('torn.') && f.endsWith('metadata.json'));
    expect(meta).toBeDefined();
    await writeFile(path.join(dir, 'torn', 'p', meta!), '{"content-type": "app');

    server = await startOwnS3rver(dir, port, { keepTorn: true });
    await expect(keysIn(endpoint, 'torn', 'p/')).rejects.toMatchObject({ name: 'InternalError' });
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));

    server = await startOwnS3rver(dir, port);
    expect(await keysIn(endpoint, 'torn', 'p/')).toEqual(['p/whole']);
  }, 60_000);
});
