/**
 * Waiting that the run's AbortSignal (SIGINT, SIGTERM) ends at once: a promise raced with the
 * signal, a sleep the signal cuts short. Client libraries have waits of their own (connect
 * timeouts, retries with backoff) that no signal reaches; racing them is how a command still
 * ends within moments of an interrupt (the work the race gives up on goes on unobserved).
 */
import { MqbakError } from './errors.js';

/** What every wait given up because of the signal rejects with (exit 130). */
export function interruptedError(): MqbakError {
  return new MqbakError('interrupted', 'interrupted');
}

/** p, or an 'interrupted' MqbakError as soon as the signal fires. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) {
    p.catch(() => undefined); // its failure, if any, is no longer anyone's
    return Promise.reject(interruptedError());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(interruptedError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Waits `ms`; rejects with 'interrupted' as soon as the signal fires (at once if it has). */
export function sleepUnlessAborted(ms: number, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted) return Promise.reject(interruptedError());
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(interruptedError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
