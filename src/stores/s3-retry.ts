/**
 * Requests to S3 with retries of transient failures (5xx, 429, refused or reset connections):
 * exponential backoff with jitter, long enough to ride out a restarting server. The SDK's own
 * retries are off (s3-config.ts).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { isTransient } from './s3-errors.js';

/** Backoff between attempts: 0.5 s, 1 s, 2 s, 4 s, 8 s (each with up to 50% jitter taken off). */
export const RETRY_BASE_MS = 500;
const RETRY_MAX_MS = 8000;

export interface RetryPolicy {
  /** Attempts per request, the first included. */
  attempts: number;
  /** The first backoff; each next one doubles, up to 8 s. */
  baseMs: number;
}

/**
 * client.send, retried while the failure is transient and attempts remain; `onRetry` before each
 * retry. The signal ends a backoff at once and then throws the last failure, without another try.
 */
export async function sendWithRetry<T = unknown>(
  client: S3Client,
  command: object,
  policy: RetryPolicy,
  signal: AbortSignal | undefined,
  onRetry?: () => void,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return (await client.send(command as never, { abortSignal: signal })) as T;
    } catch (e) {
      if (attempt >= policy.attempts || signal?.aborted || !isTransient(e)) throw e;
      onRetry?.();
      await backoff(Math.min(RETRY_MAX_MS, policy.baseMs * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2), signal);
      // interrupted during the backoff: no further attempt (s3Failure makes it 'interrupted')
      if (signal?.aborted) throw e;
    }
  }
}

/** Waits `delay` ms, or less when `signal` fires. */
function backoff(delay: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, delay);
    signal?.addEventListener('abort', done, { once: true });
  });
}
