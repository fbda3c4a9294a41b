import { describe as group, expect, it, vi } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import { describe, isRetriable, retried, Retries, RETRY_BUDGET_MS } from '../../../../src/brokers/kafka/retry.js';

/** What kafkajs throws for a Kafka error code in an answer. */
const protocolError = (type: string, code: number, retriable: boolean) => Object.assign(new Error(`broker said ${type}`), { name: 'KafkaJSProtocolError', type, code, retriable });

group('kafka retries', () => {
  it('backs off 0.1 s doubling up to 2 s, and stops once the budget since the first failure is spent', () => {
    vi.useFakeTimers();
    try {
      const r = new Retries();
      const e = protocolError('NOT_LEADER_FOR_PARTITION', 6, true);
      const waits: number[] = [];
      for (;;) {
        const w = r.failed(e);
        if (w === null) break;
        waits.push(w);
        vi.advanceTimersByTime(w);
      }
      expect(waits.slice(0, 6)).toEqual([100, 200, 400, 800, 1600, 2000]);
      expect(waits.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(RETRY_BUDGET_MS);
      expect(waits.reduce((a, b) => a + b, 0)).toBeGreaterThan(RETRY_BUDGET_MS - 2000);
      // a success starts the budget over
      r.succeeded();
      expect(r.failed(e)).toBe(100);
    } finally {
      vi.useRealTimers();
    }
  });

  it('does not retry what is not retriable', () => {
    expect(new Retries().failed(protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false))).toBeNull();
    expect(new Retries().failed(new MqbakError('usage', 'no'))).toBeNull();
  });

  it("looks through kafkajs' retry wrapper at the error it ended on", () => {
    const wrapped = Object.assign(new Error('retries exceeded'), { retriable: false, cause: protocolError('LEADER_NOT_AVAILABLE', 5, true) });
    expect(isRetriable(wrapped)).toBe(true);
  });

  it("names Kafka's error with its current name and code", () => {
    expect(describe(protocolError('NOT_LEADER_FOR_PARTITION', 6, true))).toBe('broker said NOT_LEADER_FOR_PARTITION (NOT_LEADER_OR_FOLLOWER, Kafka error 6)');
    expect(describe(protocolError('NOT_ENOUGH_REPLICAS', 19, true))).toMatch(/\(NOT_ENOUGH_REPLICAS, Kafka error 19\)$/);
    expect(describe(new Error('plain'))).toBe('plain');
  });

  it('retried: returns once the call succeeds; out of budget, exit 5 with what failed', async () => {
    let n = 0;
    const between = vi.fn(async () => {});
    expect(await retried('x', async () => (++n < 3 ? Promise.reject(protocolError('REQUEST_TIMED_OUT', 7, true)) : 'done'), between)).toBe('done');
    expect(between).toHaveBeenCalledTimes(2);
    const refused = protocolError('TOPIC_AUTHORIZATION_FAILED', 29, false);
    await expect(retried('y', () => Promise.reject(refused))).rejects.toBe(refused);
  });

  it('retried: the signal ends the wait at once, inside a call that does not return and in a backoff', async () => {
    const c = new AbortController();
    const hanging = retried('list topics', () => new Promise<never>(() => {}), undefined, c.signal);
    setTimeout(() => c.abort(), 10);
    await expect(hanging).rejects.toMatchObject({ code: 'interrupted' });

    const d = new AbortController();
    let calls = 0;
    const t0 = Date.now();
    const failing = retried(
      'metadata',
      async () => {
        calls++;
        // a retriable failure, then a backoff; the signal fires while waiting
        if (calls === 3) setTimeout(() => d.abort(), 5);
        throw protocolError('LEADER_NOT_AVAILABLE', 5, true);
      },
      undefined,
      d.signal,
    );
    await expect(failing).rejects.toMatchObject({ code: 'interrupted' });
    expect(calls).toBe(3);
    expect(Date.now() - t0).toBeLessThan(RETRY_BUDGET_MS / 2);
  });
});
