/**
 * Requests a real S3 implementation refuses, through the mqbak binary, on the Ceph RADOS Gateway
 * (s3rver checks no V4 signature, so it cannot show these): a wrong secret key, and a clock
 * further off than the gateway allows (15 minutes). The clock is set off in the mqbak process
 * only, by a preloaded module (test/helpers/skewed-clock.mjs): the request is signed with that
 * time, as on a machine whose clock is wrong.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBucket, createVhost, deleteVhost, rabbitManagementUrl, rabbitUrl, rgwServer, uniqueName, type S3TestServer } from '../helpers/brokers.js';
import { runMqbak } from '../helpers/run-mqbak.js';

const SKEWED_CLOCK = fileURLToPath(new URL('../helpers/skewed-clock.mjs', import.meta.url));
const MINUTE = 60_000;

const rgw = rgwServer();

describe.skipIf(!rgw)('S3 requests the Ceph gateway refuses, through the mqbak binary', () => {
  const server = rgw as S3TestServer;
  let bucket: string;
  beforeAll(async () => {
    bucket = uniqueName('mqbak-sig');
    await createBucket(bucket, server);
  });

  const s3Options = (): string[] => ['--s3-endpoint', server.endpoint, '--s3-path-style', '--s3-checksum', 'when-required'];
  const env = (secretAccessKey = server.credentials.secretAccessKey, skewMs = 0): NodeJS.ProcessEnv => ({
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    ...(skewMs === 0 ? {} : { NODE_OPTIONS: `--import ${SKEWED_CLOCK}`, MQBAK_TEST_CLOCK_SKEW_MS: String(skewMs) }),
  });
  /** One message in a new queue q of vhost: a backup then has something to store. */
  const fillOne = async (vhost: string): Promise<void> => {
    const amqp = await import('amqplib');
    const conn = await amqp.default.connect(rabbitUrl(vhost), { noDelay: true });
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('q', { durable: true });
    ch.sendToQueue('q', Buffer.from('one'), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
  };
  const list = (e: NodeJS.ProcessEnv) => runMqbak(['list', `s3://${bucket}/sig`, '--json', ...s3Options()], { env: e });

  it('the right keys and clock are accepted (what the refusals below are compared with)', async () => {
    const ok = await list(env());
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual([]);
    // within the 15 minutes S3 allows, a clock that is off is still accepted
    const skewed = await list(env(undefined, 10 * MINUTE));
    expect(skewed.code).toBe(0);
  });

  it('a wrong secret key: exit 5, the server says the signature does not match, a hint names the credentials, the secret is in no output', async () => {
    const secret = `${server.credentials.secretAccessKey.slice(0, -4)}Wr0n`;
    const r = await list(env(secret));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^mqbak: error: .*s3:\/\/mqbak-sig-\S+\/sig at 127\.0\.0\.1:\d+.*: access denied \(SignatureDoesNotMatch\): the server computes another signature for this access key$/m);
    expect(r.stderr).toMatch(/^hint: check the secret access key/m);
    expect(`${r.stdout}${r.stderr}`).not.toContain(secret);
    expect(`${r.stdout}${r.stderr}`).not.toContain(server.credentials.secretAccessKey);
  });

  it('a wrong secret key stops a backup with exit 5 and access denied', async () => {
    const vhost = uniqueName('s3-sig');
    await createVhost(vhost);
    try {
      const secret = `${server.credentials.secretAccessKey.slice(0, -4)}Wr0n`;
      await fillOne(vhost);
      const r = await runMqbak(['backup', rabbitUrl(vhost), `s3://${bucket}/sig-backup`, '--queues', 'q', ...s3Options()], {
        env: { ...env(secret), MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl() },
      });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(5);
      // the first request of a backup is a HeadObject, whose 403 carries no error code: the
      // store asks a listing for the reason
      expect(r.stderr).toMatch(/^mqbak: error: .*: access denied \(SignatureDoesNotMatch\)/m);
      expect(r.stderr).toMatch(/^hint: check the secret access key/m);
      expect(r.stderr).not.toContain(secret);
    } finally {
      await deleteVhost(vhost);
    }
  });

  it.each([
    ['ahead', 60 * MINUTE],
    ['behind', -60 * MINUTE],
  ])('a clock an hour %s: exit 5, and the error names the skew the gateway refused (RequestTimeTooSkewed)', async (_dir, skew) => {
    const r = await list(env(undefined, skew));
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/^mqbak: error: .*s3:\/\/mqbak-sig-\S+\/sig at 127\.0\.0\.1:\d+.*: the server refused the request's time \(RequestTimeTooSkewed\): this machine's clock and the server's differ/m);
    expect(r.stderr).toMatch(/^hint: set this machine's clock right/m);
    expect(r.stderr).not.toMatch(/access denied/);
  });

  it('a clock an hour ahead stops a backup with the skew named, though its first request (HeadObject) has no error body', async () => {
    const vhost = uniqueName('s3-skew');
    await createVhost(vhost);
    try {
      await fillOne(vhost);
      const r = await runMqbak(['backup', rabbitUrl(vhost), `s3://${bucket}/skew-backup`, '--queues', 'q', ...s3Options()], {
        env: { ...env(undefined, 60 * MINUTE), MQBAK_RABBITMQ_MANAGEMENT_URL: rabbitManagementUrl() },
      });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code).toBe(5);
      expect(r.stderr).toMatch(/^mqbak: error: .*: the server refused the request's time \(RequestTimeTooSkewed\)/m);
      expect(r.stderr).toMatch(/^hint: set this machine's clock right/m);
    } finally {
      await deleteVhost(vhost);
    }
  });
});
