/**
 * Runs fn over items, at most `limit` at a time; results in item order. The first failure stops
 * the others (through the signal they get) and is thrown once all have settled, so nothing still
 * writes after this returns.
 */
import { throwIfAborted } from '../common/errors.js';

export async function forEachBounded<T, R>(items: readonly T[], limit: number, outer: AbortSignal, fn: (item: T, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  const stop = new AbortController();
  const onOuter = () => stop.abort(outer.reason);
  outer.addEventListener('abort', onOuter, { once: true });
  const results: R[] = new Array<R>(items.length);
  let failure: { error: unknown } | null = null;
  let nextIndex = 0;
  const lane = async () => {
    while (failure === null && nextIndex < items.length) {
      const i = nextIndex++;
      try {
        throwIfAborted(stop.signal);
        results[i] = await fn(items[i]!, stop.signal);
      } catch (e) {
        failure ??= { error: e };
        stop.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  } finally {
    outer.removeEventListener('abort', onOuter);
  }
  if (failure !== null) throw (failure as { error: unknown }).error;
  return results;
}
