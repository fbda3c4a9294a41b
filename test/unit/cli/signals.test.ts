import { afterEach, describe, expect, it } from 'vitest';
import { handleInterrupts, runSignal, type Interrupts } from '../../../src/cli/signals.js';

// The handlers are driven with process.emit (no real signal): what the binary does with real
// ones is in test/e2e/signals.test.ts.
let current: Interrupts | undefined;
afterEach(() => {
  current?.dispose();
  current = undefined;
});

function start(graceMs = 60_000): { lines: string[]; exits: number[]; i: Interrupts } {
  const lines: string[] = [];
  const exits: number[] = [];
  current = handleInterrupts({ write: (t) => void lines.push(t), exit: (c) => void exits.push(c), graceMs });
  return { lines, exits, i: current };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('handleInterrupts', () => {
  it('the first signal aborts the run signal with an interrupted error and says so; no exit yet', () => {
    const { lines, exits, i } = start();
    expect(runSignal()).toBe(i.signal);
    process.emit('SIGTERM', 'SIGTERM');
    expect(i.signal.aborted).toBe(true);
    expect(i.signal.reason).toMatchObject({ code: 'interrupted' });
    expect(lines).toEqual(['mqbak: SIGTERM received: stopping (nothing half-written is kept as a backup)\n']);
    expect(exits).toEqual([]);
  });

  it('a command still running after the grace: exit 130 with one error line', async () => {
    const { lines, exits } = start(30);
    process.emit('SIGINT', 'SIGINT');
    await tick(80);
    expect(exits).toEqual([130]);
    expect(lines.filter((l) => l.startsWith('mqbak: error: '))).toHaveLength(1);
    expect(lines[1]).toMatch(/^mqbak: error: interrupted \(SIGINT: the command did not stop within/);
  });

  it('a second signal exits 130 at once, with one error line', () => {
    const { lines, exits } = start();
    process.emit('SIGINT', 'SIGINT');
    process.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([130]);
    expect(lines.filter((l) => l.startsWith('mqbak: error: '))).toEqual(['mqbak: error: interrupted (SIGINT again: exiting now)\n']);
  });

  it('once the outcome is printed, a forced exit keeps its status and prints nothing more', () => {
    const { lines, exits, i } = start();
    process.emit('SIGINT', 'SIGINT');
    i.settled(130);
    process.emit('SIGINT', 'SIGINT');
    expect(exits).toEqual([130]);
    expect(lines.filter((l) => l.startsWith('mqbak: error: '))).toEqual([]);
  });

  it('after the interrupt, a background rejection is not reported (no stack trace, no exit 1)', () => {
    const before = process.listenerCount('unhandledRejection');
    start();
    expect(process.listenerCount('unhandledRejection')).toBe(before);
    process.emit('SIGINT', 'SIGINT');
    expect(process.listenerCount('unhandledRejection')).toBe(before + 1);
  });

  it('dispose stops listening and clears the grace timer', async () => {
    const { exits, i } = start(30);
    const before = process.listenerCount('SIGINT');
    i.dispose();
    expect(process.listenerCount('SIGINT')).toBe(before - 1);
    expect(runSignal()).toBeUndefined();
    await tick(60);
    expect(exits).toEqual([]);
  });
});
