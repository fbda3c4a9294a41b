/**
 * How mqbak retries what a Kafka cluster refuses for a moment (a leader moving, a broker
 * restarting, NOT_ENOUGH_REPLICAS while a follower catches up): retriable errors (kafkajs marks
 * Kafka's retriable error codes and lost connections `retriable`) are retried with exponential
 * backoff, refreshing metadata in between, for RETRY_BUDGET_MS since the last success; then the
 * run ends with exit 5 naming what failed and Kafka's error. Anything else is thrown at once.
 * docs/KAFKA.md ("Faults") states these bounds.
 */
import { MqbakError, messageOf } from '../../common/errors.js';
import { raceAbort, sleepUnlessAborted } from '../../common/abort.js';

/** How long a partition (or an admin call) may keep failing with retriable errors. */
export const RETRY_BUDGET_MS = 20_000;
const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

/** Kafka's current names of error codes kafkajs 2.2 still calls by their old names. */
const RENAMED: Record<number, string> = { 6: 'NOT_LEADER_OR_FOLLOWER' };

/** The error and what caused it (kafkajs wraps the last error of its own retries in another). */
export function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let x = e; typeof x === 'object' && x !== null && out.length < 8; x = (x as { cause?: unknown }).cause) out.push(x);
  return out;
}

/** Whether the error says the broker is gone (exit 5) rather than that it refused something (exit 3). */
export function isBrokerGone(e: unknown): boolean {
  return causes(e).some((x) => /Connection|Timeout|BrokerNotFound|LockTimeout/.test(String((x as { name?: unknown }).name)));
}

/** Whether the error, or what kafkajs' retries ended on, is one worth retrying. */
export function isRetriable(e: unknown): boolean {
  if (e instanceof MqbakError) return e.retriable;
  const list = causes(e);
  // kafkajs' KafkaJSNumberOfRetriesExceeded is not retriable itself; what it ended on may be
  const last = list[list.length - 1];
  return [list[0], last].some((x) => typeof x === 'object' && x !== null && (x as { retriable?: unknown }).retriable === true);
}

/** The Kafka error name and code of a kafkajs protocol error, where there is one. */
function kafkaError(e: unknown): string | null {
  for (const x of causes(e)) {
    const { type, code } = x as { type?: unknown; code?: unknown };
    if (typeof type === 'string' && typeof code === 'number') return `${RENAMED[code] ?? type}, Kafka error ${code}`;
  }
  return null;
}

/** The message, with Kafka's error name and code where the error carries them. */
export function describe(e: unknown): string {
  const m = messageOf(e);
  const k = kafkaError(e);
  return k && !m.includes(k) ? `${m} (${k})` : m;
}

/** A backoff; the run's signal ends it at once ('interrupted'). */
export const sleep = (ms: number, signal?: AbortSignal): Promise<void> => sleepUnlessAborted(ms, signal);

/**
 * The retries of one thing (a partition's reads or writes, an admin call): failed() after each
 * failure says how long to wait before the next try, or null once the budget is spent or the
 * error is not worth retrying; succeeded() starts the budget over.
 */
export class Retries {
  private since: number | null = null;
  private attempts = 0;

  constructor(private readonly budgetMs = RETRY_BUDGET_MS) {}

  failed(e: unknown): number | null {
    if (!isRetriable(e)) return null;
    const now = Date.now();
    this.since ??= now;
    const wait = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** this.attempts++);
    return now + wait - this.since > this.budgetMs ? null : wait;
  }

  succeeded(): void {
    this.since = null;
    this.attempts = 0;
  }

  /** Since when it has been failing, in ms (0 when it is not). */
  failingFor(): number {
    return this.since === null ? 0 : Date.now() - this.since;
  }
}

/**
 * Runs `fn` until it succeeds, retrying retriable errors within the budget (`between` runs
 * before each retry: a metadata refresh). Out of budget: exit 5 with `what` and the error;
 * an error not worth retrying is thrown as it is. The signal ends the wait at once, also while
 * `fn` is inside kafkajs' own retries ('interrupted').
 */
export async function retried<T>(what: string, fn: () => Promise<T>, between?: () => Promise<unknown>, signal?: AbortSignal): Promise<T> {
  const r = new Retries();
  for (;;) {
    try {
      return await raceAbort(fn(), signal);
    } catch (e) {
      if (e instanceof MqbakError && !e.retriable) throw e;
      const wait = r.failed(e);
      if (wait === null) {
        if (!isRetriable(e)) throw e;
        throw new MqbakError('unreachable', `${what}: ${describe(e)}; still failing after ${Math.round(r.failingFor() / 1000)} s of retries`, { cause: e });
      }
      await sleep(wait, signal);
      await raceAbort(between?.().catch(() => {}) ?? Promise.resolve(), signal);
    }
  }
}
