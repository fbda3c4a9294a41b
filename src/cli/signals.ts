/**
 * SIGINT and SIGTERM while a command runs. The first aborts the run's signal, which every wait
 * listens to (broker connects and retries, S3 requests and backoffs, store locks): the command
 * stops, keeps nothing half-written (no manifest for unfinished work, nothing acked) and ends
 * with exit 130. Should it still run GRACE_MS later (a wait that no signal reaches), or at a
 * second signal, the process exits at once: 130 with one error line, never a stack trace (a
 * client library failing in the background because its work was given up is not reported).
 */
import { MqbakError } from '../common/errors.js';
import { EXIT } from './exit-codes.js';

/** How long the command has to stop after the first signal before the process exits anyway. */
export const GRACE_MS = 1500;

export interface Interrupts {
  /** Aborted at the first signal, with an 'interrupted' MqbakError as its reason. */
  readonly signal: AbortSignal;
  /** The command's outcome is printed: an exit forced later uses this status and prints nothing. */
  settled(exitCode: number): void;
  /**
   * Stops listening for signals (the command returned). After an interrupt, background failures
   * stay unreported until the process exits: the given-up work may still fail after this.
   */
  dispose(): void;
}

export interface InterruptOptions {
  write: (text: string) => void;
  exit?: (code: number) => void;
  graceMs?: number;
  debug?: boolean;
}

let current: AbortSignal | undefined;

/** The signal of the command running in this process, for helpers a command calls without one. */
export function runSignal(): AbortSignal | undefined {
  return current;
}

export function handleInterrupts(options: InterruptOptions): Interrupts {
  const { write } = options;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const controller = new AbortController();
  let received = 0;
  let outcome: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  const exitNow = (why: string): void => {
    if (outcome !== null) return exit(outcome);
    write(`mqbak: error: interrupted (${why})\n`);
    outcome = EXIT.interrupted;
    exit(EXIT.interrupted);
  };
  // what fails in the background once the work was given up (a client's connection closed under
  // it, a request raced away) is not the user's concern: no stack trace, no exit 1
  const onRejection = (e: unknown): void => {
    if (options.debug) write(`mqbak: after the interrupt: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  };
  const onException = (e: unknown): void => {
    onRejection(e);
    exitNow('a client library failed while stopping');
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    received++;
    if (received > 1) return exitNow(`${sig} again: exiting now`);
    write(`mqbak: ${sig} received: stopping (nothing half-written is kept as a backup)\n`);
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    timer = setTimeout(() => exitNow(`${sig}: the command did not stop within ${(options.graceMs ?? GRACE_MS) / 1000} s, exiting now`), options.graceMs ?? GRACE_MS);
    timer.unref();
    controller.abort(new MqbakError('interrupted', `interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  current = controller.signal;
  return {
    signal: controller.signal,
    settled(exitCode: number) {
      outcome = exitCode;
    },
    dispose() {
      clearTimeout(timer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (received === 0) {
        process.off('unhandledRejection', onRejection);
        process.off('uncaughtException', onException);
      }
      if (current === controller.signal) current = undefined;
    },
  };
}
