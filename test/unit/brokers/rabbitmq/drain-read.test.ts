import { describe, expect, it } from 'vitest';
import { drainPrefetch } from '../../../../src/brokers/rabbitmq/drain-read.js';

describe('drainPrefetch', () => {
  it('is two checkpoints, so the next one is delivered while one is committed', () => {
    expect(drainPrefetch(20_000, 200_000)).toBe(40_000);
    expect(drainPrefetch(5_000, 12_000)).toBe(10_000);
  });

  it('is at most 65535, the AMQP field', () => {
    expect(drainPrefetch(50_000, 1_000_000)).toBe(65_535);
    expect(drainPrefetch(65_535, 1_000_000)).toBe(65_535);
  });

  it('asks for no more than the drain takes, and for at least one checkpoint', () => {
    expect(drainPrefetch(20_000, 30_000)).toBe(30_000);
    expect(drainPrefetch(20_000, 20_000)).toBe(20_000);
    expect(drainPrefetch(100, 0)).toBe(100);
    expect(drainPrefetch(1, 0)).toBe(1);
  });
});
