import { describe, expect, it } from 'vitest';
import { brokerPortInArgv, cpuSeconds } from '../../../bench/lib/broker-cpu.js';

describe('bench broker CPU', () => {
  it('finds the broker port in a command line by its URL', () => {
    expect(brokerPortInArgv(['node', 'mqbak', 'backup', 'amqp://guest:guest@127.0.0.1:5672/%2F', 'dir'])).toBe(5672);
    expect(brokerPortInArgv(['x', 'nats://127.0.0.1:41234', 'S'])).toBe(41234);
    expect(brokerPortInArgv(['kafka://127.0.0.1:9093,127.0.0.1:9094'])).toBe(9093);
    expect(brokerPortInArgv(['amqp://localhost'])).toBe(5672);
    expect(brokerPortInArgv(['nats://localhost'])).toBe(4222);
    expect(brokerPortInArgv(['amqps://u:p@[::1]:5999/v'])).toBe(5999);
    expect(brokerPortInArgv(['verify', '/tmp/store'])).toBeUndefined();
  });

  it('reads a process CPU time from /proc, and null for none or a missing process', () => {
    const mine = cpuSeconds([process.pid]);
    expect(mine).toBeGreaterThan(0);
    // a busy loop adds to it (clock ticks are 10 ms; spin well past that)
    const t0 = Date.now();
    while (Date.now() - t0 < 150) Math.sqrt(Math.random());
    expect(cpuSeconds([process.pid])!).toBeGreaterThan(mine!);
    expect(cpuSeconds([])).toBeNull();
    expect(cpuSeconds([2 ** 22 + 1])).toBeNull();
  });
});
