import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3Store } from '../../../src/stores/s3.js';
import { sseParams, type S3Config } from '../../../src/stores/s3-config.js';
import { s3ConfigFrom } from '../../../src/cli/store.js';

interface Sent {
  command: string;
  input: Record<string, unknown>;
}

/**
 * A store whose SDK client answers from here instead of the network: a middleware at the first
 * step records each command's input (after the store built it, before signing or sending) and
 * plays a bucket that holds what was uploaded. What is tested is the request parameters only.
 */
function recordingStore(config: S3Config, tuning = {}): { store: S3Store; sent: Sent[] } {
  const store = new S3Store('bucket', 'p', { endpoint: 'http://127.0.0.1:9', region: 'us-east-1', ...config }, tuning);
  const client = (store as unknown as { client: S3Client }).client;
  const sent: Sent[] = [];
  const sizes = new Map<string, number>();
  client.middlewareStack.add(
    (_next, context) => async (args) => {
      const input = args.input as Record<string, unknown>;
      const command = String(context.commandName);
      sent.push({ command, input });
      const key = String(input.Key);
      const done = (output: Record<string, unknown>) => ({ response: {}, output: { $metadata: {}, ...output } }) as never;
      switch (command) {
        case 'HeadObjectCommand': {
          const size = sizes.get(key);
          if (size === undefined) throw Object.assign(new Error('not found'), { name: 'NoSuchKey', $metadata: { httpStatusCode: 404 } });
          return done({ ContentLength: size });
        }
        case 'PutObjectCommand':
          sizes.set(key, (input.Body as Uint8Array).length);
          return done({ ETag: '"e"' });
        case 'CreateMultipartUploadCommand':
          return done({ UploadId: 'u1' });
        case 'UploadPartCommand':
          sizes.set(key, (sizes.get(key) ?? 0) + (input.Body as Uint8Array).length);
          return done({ ETag: `"p${String(input.PartNumber)}"` });
        case 'CompleteMultipartUploadCommand':
          return done({});
        default:
          throw new Error(`unexpected ${command}`);
      }
    },
    { step: 'initialize', name: 'record', priority: 'high' },
  );
  return { store, sent };
}

const uploads = (sent: Sent[]) => sent.filter((s) => s.command === 'PutObjectCommand' || s.command === 'CreateMultipartUploadCommand');

describe('S3 server-side encryption', () => {
  it('every single put and every multipart upload carries ServerSideEncryption and the KMS key id', async () => {
    const { store, sent } = recordingStore({ sse: 'aws:kms', sseKmsKeyId: 'alias/mqbak' }, { multipartThreshold: 16, partSize: 8 });
    await store.put('keys/0a1b2c3d.json', new Uint8Array(10));
    await store.put('segments/x/0000/0000000000.seg', new Uint8Array(20)); // above the threshold: multipart
    await store.put('manifests/x.json', [new Uint8Array(3), new Uint8Array(4)]);
    const up = uploads(sent);
    expect(up.map((s) => s.command)).toEqual(['PutObjectCommand', 'CreateMultipartUploadCommand', 'PutObjectCommand']);
    for (const s of up) expect(s.input).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'alias/mqbak' });
    // parts inherit the upload's encryption: S3 refuses SSE-KMS parameters on UploadPart
    const parts = sent.filter((s) => s.command === 'UploadPartCommand');
    expect(parts).toHaveLength(3);
    for (const p of parts) expect(p.input.ServerSideEncryption).toBeUndefined();
  });

  it('AES256 sends no key id; without --s3-sse nothing is sent', async () => {
    const a = recordingStore({ sse: 'AES256' });
    await a.store.put('k', new Uint8Array(1));
    expect(uploads(a.sent)[0]!.input.ServerSideEncryption).toBe('AES256');
    expect('SSEKMSKeyId' in uploads(a.sent)[0]!.input).toBe(false);
    const none = recordingStore({});
    await none.store.put('k', new Uint8Array(1));
    expect('ServerSideEncryption' in uploads(none.sent)[0]!.input).toBe(false);
  });

  it('options and environment: MQBAK_S3_SSE, MQBAK_S3_SSE_KMS_KEY_ID; a key id without aws:kms is a usage error', () => {
    expect(s3ConfigFrom({ s3Sse: 'AES256' }, { MQBAK_S3_SSE: 'aws:kms' })).toMatchObject({ sse: 'AES256' });
    expect(s3ConfigFrom({}, { MQBAK_S3_SSE: 'aws:kms', MQBAK_S3_SSE_KMS_KEY_ID: 'k1' })).toMatchObject({ sse: 'aws:kms', sseKmsKeyId: 'k1' });
    expect(s3ConfigFrom({}, {}).sse).toBeUndefined();
    expect(() => s3ConfigFrom({ s3Sse: 'aes' }, {})).toThrow(/AES256 or aws:kms/);
    expect(() => s3ConfigFrom({ s3SseKmsKeyId: 'k' }, {})).toThrow(/needs --s3-sse aws:kms/);
    expect(() => sseParams({ sse: 'AES256', sseKmsKeyId: 'k' })).toThrow(/aws:kms/);
  });
});
