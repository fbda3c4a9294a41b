import type { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { sendWithRetry } from '../../../src/stores/s3-retry.js';

// A client whose send answers from a list: an Error is thrown, anything else returned. The retry
// logic is pure; what a real server does is in test/integration/stores/s3-faults.test.ts.
function scripted(answers: unknown[]): { client: S3Client; calls: () => number } {
  let n = 0;
  const client = {
    send: async () => {
      const a = answers[Math.min(n++, answers.length - 1)];
      if (a instanceof Error) throw a;
      return a;
    },
  } as unknown as S3Client;
  return { client, calls: () => n };
}

const status = (code: number) => Object.assign(new Error(`HTTP ${code}`), { name: 'E', $metadata: { httpStatusCode: code } });

describe('sendWithRetry', () => {
  it('retries transient failures until an answer, calling onRetry before each retry', async () => {
    const s = scripted([status(503), status(500), 'ok']);
    let retries = 0;
    await expect(sendWithRetry(s.client, {}, { attempts: 6, baseMs: 1 }, undefined, () => retries++)).resolves.toBe('ok');
    expect(s.calls()).toBe(3);
    expect(retries).toBe(2);
  });

  it('gives up after the attempts, with the last failure', async () => {
    const s = scripted([status(500)]);
    await expect(sendWithRetry(s.client, {}, { attempts: 3, baseMs: 1 }, undefined)).rejects.toMatchObject({ message: 'HTTP 500' });
    expect(s.calls()).toBe(3);
  });

  it('does not retry what is not transient, nor once aborted', async () => {
    const s = scripted([status(403), 'ok']);
    await expect(sendWithRetry(s.client, {}, { attempts: 6, baseMs: 1 }, undefined)).rejects.toMatchObject({ message: 'HTTP 403' });
    expect(s.calls()).toBe(1);
    const aborted = new AbortController();
    aborted.abort();
    const t = scripted([status(500), 'ok']);
    await expect(sendWithRetry(t.client, {}, { attempts: 6, baseMs: 1 }, aborted.signal)).rejects.toMatchObject({ message: 'HTTP 500' });
    expect(t.calls()).toBe(1);
  });

  it('a signal during a backoff ends it at once, without another attempt', async () => {
    const s = scripted([status(503), 'ok']);
    const c = new AbortController();
    const t0 = Date.now();
    const p = sendWithRetry(s.client, {}, { attempts: 6, baseMs: 60_000 }, c.signal);
    setTimeout(() => c.abort(), 10);
    await expect(p).rejects.toMatchObject({ message: 'HTTP 503' });
    expect(s.calls()).toBe(1);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
