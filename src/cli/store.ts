import { MqbakError } from '../common/errors.js';
import { openStore, type S3Config } from '../stores/open.js';
import type { Store, StoreAccess } from '../stores/store.js';
import { runSignal } from './signals.js';

/** Builds the S3 settings from the --s3-* options, then MQBAK_S3_* and the AWS SDK's own variables. */
export function s3ConfigFrom(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): S3Config {
  const checksum = (opts.s3Checksum as string | undefined) ?? env.MQBAK_S3_CHECKSUM ?? checksumFromAws(env.AWS_REQUEST_CHECKSUM_CALCULATION);
  if (checksum !== undefined && checksum !== 'when-required' && checksum !== 'when-supported') {
    throw new MqbakError('usage', `--s3-checksum ${checksum}: expected when-required or when-supported`);
  }
  const pathStyleEnv = env.MQBAK_S3_PATH_STYLE;
  const config: S3Config = {
    endpoint: (opts.s3Endpoint as string | undefined) ?? env.MQBAK_S3_ENDPOINT ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL,
    region: (opts.s3Region as string | undefined) ?? env.MQBAK_S3_REGION ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    forcePathStyle: Boolean(opts.s3PathStyle) || pathStyleEnv === '1' || pathStyleEnv === 'true',
  };
  if (checksum) config.checksum = checksum;
  const sse = (opts.s3Sse as string | undefined) ?? nonEmpty(env.MQBAK_S3_SSE);
  if (sse !== undefined) {
    if (sse !== 'AES256' && sse !== 'aws:kms') throw new MqbakError('usage', `--s3-sse ${sse}: expected AES256 or aws:kms`);
    config.sse = sse;
  }
  const kmsKey = (opts.s3SseKmsKeyId as string | undefined) ?? nonEmpty(env.MQBAK_S3_SSE_KMS_KEY_ID);
  if (kmsKey !== undefined) {
    if (sse !== 'aws:kms') throw new MqbakError('usage', '--s3-sse-kms-key-id needs --s3-sse aws:kms');
    config.sseKmsKeyId = kmsKey;
  }
  if (env.MQBAK_S3_CONTENT_MD5 === '1' || env.MQBAK_S3_CONTENT_MD5 === 'true') config.contentMd5 = true;
  const attempts = env.MQBAK_S3_MAX_ATTEMPTS;
  if (attempts !== undefined) {
    const n = Number(attempts);
    if (!Number.isSafeInteger(n) || n < 1) throw new MqbakError('usage', `MQBAK_S3_MAX_ATTEMPTS=${attempts}: expected a whole number of at least 1`);
    config.maxAttempts = n;
  }
  return config;
}

/**
 * The region and endpoint of an s3:// store, checked before the SDK would find them wrong on
 * its first request (only for s3:// stores: AWS_REGION and AWS_ENDPOINT_URL may be set for
 * other tools while the store is a folder).
 */
export function checkS3Settings(config: S3Config): void {
  // what the AWS SDK accepts as a region: one host name label
  if (config.region !== undefined && !/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(config.region)) {
    throw new MqbakError('usage', `S3 region ${JSON.stringify(config.region)}: expected a name such as eu-west-1 (letters, digits and inner "-")`);
  }
  if (config.endpoint !== undefined) checkEndpoint(config.endpoint);
}

function checkEndpoint(endpoint: string): void {
  let u: URL | null = null;
  try {
    u = new URL(endpoint);
  } catch {
    // below
  }
  if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
    throw new MqbakError('usage', `S3 endpoint ${JSON.stringify(endpoint)}: expected an http:// or https:// URL`, { hint: 'e.g. --s3-endpoint http://127.0.0.1:9000' });
  }
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function checksumFromAws(v: string | undefined): string | undefined {
  if (!v) return undefined;
  const s = v.toLowerCase().replace('_', '-');
  return s;
}

/**
 * Opens the store, and when it is encrypted (it holds key files) reads the password and attaches
 * the master key it opens, before the command does anything else: a wrong or missing password
 * fails here (exit 2) and nothing is read or written. `unlock: false` for commands that manage
 * the keys themselves (key, unlock). `check` first checks that the store is there (Store.check):
 * a missing folder or bucket is then 'not-found' rather than an empty store.
 */
export async function openStoreFromCli(
  url: string,
  opts: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  options: { unlock?: boolean; signal?: AbortSignal; check?: StoreAccess } = {},
): Promise<Store> {
  // the running command's signal: a store that does not answer is retried, and SIGINT ends that
  const signal = options.signal ?? runSignal();
  const store = await openStore(url, s3ConfigFrom(opts, env));
  try {
    // a missing folder or bucket is reported as such, before anything looks inside
    if (options.check) await store.check(options.check);
    if (options.unlock === false) return store;
    const { isEncryptedStore, unlockStore } = await import('../core/store-keys.js');
    if (await isEncryptedStore(store, signal)) {
      const { storePassword } = await import('./password.js');
      const { attachMasterKey } = await import('../archive/encryption/store-key.js');
      const password = await storePassword(opts, env);
      try {
        const unlocked = await unlockStore(store, password, signal);
        attachMasterKey(store, unlocked.masterKey);
        unlocked.masterKey.fill(0);
        // another key file opened it; the damaged ones may be someone's only password
        for (const d of unlocked.damaged) process.stderr.write(`mqbak: warning: ${d.key}: ${d.error.message}\n`);
      } finally {
        password.fill(0);
      }
    }
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
