/**
 * How the S3 store reaches its server: the user's settings (S3Config, filled by the CLI from
 * options and environment), the knobs tests turn (S3StoreTuning), and the SDK client
 * configuration made from both.
 */
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { MqbakError } from '../common/errors.js';

/** How to reach S3 or an S3-compatible server; the CLI fills it from options and environment. */
export interface S3Config {
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
  /** 'when-required' for servers that reject the SDK's default flexible checksums. */
  checksum?: 'when-required' | 'when-supported';
  /**
   * Content-MD5 on every upload from the first (MQBAK_S3_CONTENT_MD5=1). Otherwise it is sent only
   * once the server has asked for it: every upload is signed with its SHA-256 anyway (s3.ts).
   */
  contentMd5?: boolean;
  /** Attempts per request, retries of transient errors included (default 6, see s3-retry.ts). */
  maxAttempts?: number;
  /** Server-side encryption asked for on every upload: the bucket holds the keys (docs/ENCRYPTION.md, section 1). */
  sse?: S3ServerSideEncryption;
  /** With sse 'aws:kms': the KMS key (id, ARN or alias); the bucket's default KMS key when absent. */
  sseKmsKeyId?: string;
}

export type S3ServerSideEncryption = 'AES256' | 'aws:kms';

/** The parameters every PutObject and CreateMultipartUpload carries for the configured server-side encryption. */
export function sseParams(config: S3Config): { ServerSideEncryption?: S3ServerSideEncryption; SSEKMSKeyId?: string } {
  if (config.sse === undefined) {
    if (config.sseKmsKeyId !== undefined) throw new MqbakError('usage', 'a KMS key id needs --s3-sse aws:kms');
    return {};
  }
  if (config.sse !== 'AES256' && config.sse !== 'aws:kms') {
    throw new MqbakError('usage', `--s3-sse ${String(config.sse)}: expected AES256 or aws:kms`);
  }
  if (config.sse === 'AES256') {
    if (config.sseKmsKeyId !== undefined) throw new MqbakError('usage', 'a KMS key id needs --s3-sse aws:kms, not AES256');
    return { ServerSideEncryption: 'AES256' };
  }
  return config.sseKmsKeyId === undefined ? { ServerSideEncryption: 'aws:kms' } : { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: config.sseKmsKeyId };
}

/**
 * Knobs for tests (small parts, short timeouts and backoff); the CLI never sets them.
 * Everything users may tune is in S3Config.
 */
export interface S3StoreTuning {
  multipartThreshold?: number;
  partSize?: number;
  retryBaseMs?: number;
  connectTimeoutMs?: number;
  socketTimeoutMs?: number;
}

/** Bodies above this go up as multipart uploads. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
export const PART_SIZE = 8 * 1024 * 1024;
export const DEFAULT_MAX_ATTEMPTS = 6;
/** A connection that takes this long to open, or a socket silent this long, counts as failed. */
const CONNECT_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 120_000;

/** The SDK client's configuration. */
export function s3ClientConfig(config: S3Config, tuning: S3StoreTuning): S3ClientConfig {
  const clientConfig: S3ClientConfig = {
    region: config.region ?? 'us-east-1',
    forcePathStyle: config.forcePathStyle ?? false,
    // a bucket in another region than the one configured still works on AWS (one redirect)
    followRegionRedirects: true,
    // transient failures are retried by s3-retry.ts, with a backoff long enough to ride out
    // a restarting server (the SDK's own gives up on a refused connection in under a second)
    maxAttempts: 1,
    // no 'Expect: 100-continue' before a body (the SDK's default from 2 MB): each upload would
    // wait a round trip for the server's go-ahead before sending its bytes
    expectContinueHeader: false,
    // without these a server that accepts and then never answers hangs a backup forever
    requestHandler: {
      connectionTimeout: tuning.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      socketTimeout: tuning.socketTimeoutMs ?? SOCKET_TIMEOUT_MS,
    },
  };
  if (config.endpoint) clientConfig.endpoint = config.endpoint;
  if (config.checksum === 'when-required') {
    clientConfig.requestChecksumCalculation = 'WHEN_REQUIRED';
    clientConfig.responseChecksumValidation = 'WHEN_REQUIRED';
  } else if (config.checksum === 'when-supported') {
    clientConfig.requestChecksumCalculation = 'WHEN_SUPPORTED';
    clientConfig.responseChecksumValidation = 'WHEN_SUPPORTED';
  }
  return clientConfig;
}

/** "s3://bucket/prefix at host:port", for messages; `base` is the key prefix with its trailing '/'. */
export function s3Description(bucket: string, base: string, endpoint: string | undefined): string {
  let where = `s3://${bucket}${base ? `/${base.slice(0, -1)}` : ''}`;
  if (endpoint) {
    try {
      where += ` at ${new URL(endpoint).host}`;
    } catch {
      throw new MqbakError('usage', `S3 endpoint ${JSON.stringify(endpoint)} is not a URL`, {
        hint: 'give it as http(s)://host:port',
      });
    }
  }
  return where;
}
