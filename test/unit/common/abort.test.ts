import { describe, expect, it } from 'vitest';
import { raceAbort, sleepUnlessAborted } from '../../../src/common/abort.js';

const never = new Promise<never>(() => {});

describe('raceAbort', () => {
  it('settles as the promise does while the signal stays quiet', async () => {
    await expect(raceAbort(Promise.resolve(7), new AbortController().signal)).resolves.toBe(7);
    await expect(raceAbort(Promise.reject(new Error('no')), new AbortController().signal)).rejects.toThrow('no');
  });

  it('rejects with an interrupted error as soon as the signal fires, though the promise never settles', async () => {
    const c = new AbortController();
    const p = raceAbort(never, c.signal);
    setTimeout(() => c.abort(), 10);
    await expect(p).rejects.toMatchObject({ code: 'interrupted' });
  });

  it('rejects at once when the signal has fired already', async () => {
    const c = new AbortController();
    c.abort();
    await expect(raceAbort(Promise.reject(new Error('later')), c.signal)).rejects.toMatchObject({ code: 'interrupted' });
  });
});

describe('sleepUnlessAborted', () => {
  it('waits, or ends with interrupted when the signal fires', async () => {
    await expect(sleepUnlessAborted(1, undefined)).resolves.toBeUndefined();
    const c = new AbortController();
    const t0 = Date.now();
    const p = sleepUnlessAborted(60_000, c.signal);
    setTimeout(() => c.abort(), 10);
    await expect(p).rejects.toMatchObject({ code: 'interrupted' });
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
