/**
 * --progress json: progress as JSON lines on stderr, one object a line, for wrappers and CI
 * logs (docs/JSON.md). Every line has `type` and `time` (ISO 8601):
 *   {"type":"phase","time":...,"message":"backing up kafka/orders/0"}
 *   {"type":"progress","time":...,"stream":"kafka/orders/0","records":1200,"bytes":52000,"total":5000}
 *   {"type":"info","time":...,"message":...}
 *   {"type":"warning","time":...,"message":...}
 * Counts are throttled to one line every `intervalMs`; the latest counts not yet printed are
 * printed before the next phase and when the command ends, so the last counts are always there.
 */
import { MqbakError } from '../common/errors.js';
import type { Progress, ProgressCounts } from '../common/progress.js';

export interface JsonProgressOptions {
  stream: { write(text: string): unknown };
  intervalMs?: number;
  now?: () => number;
}

export function jsonProgress(options: JsonProgressOptions): Progress & { stop(): void } {
  const { stream } = options;
  const intervalMs = options.intervalMs ?? 1000;
  const now = options.now ?? Date.now;
  let pending: ProgressCounts | null = null;
  let lastPrinted = Number.NEGATIVE_INFINITY;
  let lastCounts = '';
  const emit = (type: string, fields: Record<string, unknown>): void => {
    stream.write(`${JSON.stringify({ type, time: new Date(now()).toISOString(), ...fields })}\n`);
  };
  const flush = (): void => {
    if (pending === null) return;
    const c = pending;
    pending = null;
    const counts = JSON.stringify({
      ...(c.stream === undefined ? {} : { stream: c.stream }),
      records: c.records,
      ...(c.bytes === undefined ? {} : { bytes: c.bytes }),
      ...(c.total === undefined ? {} : { total: c.total }),
    });
    if (counts === lastCounts) return; // the same counts again say nothing new
    lastCounts = counts;
    lastPrinted = now();
    emit('progress', JSON.parse(counts) as Record<string, unknown>);
  };
  return {
    phase(message) {
      flush();
      emit('phase', { message });
    },
    update(counts) {
      pending = { ...counts };
      if (now() - lastPrinted >= intervalMs) flush();
    },
    info(message) {
      emit('info', { message });
    },
    warn(message) {
      emit('warning', { message });
    },
    stop() {
      flush();
    },
  };
}

export const PROGRESS_MODES = ['auto', 'plain', 'json'] as const;
export type ProgressMode = (typeof PROGRESS_MODES)[number];

/** --progress, else MQBAK_PROGRESS, else auto (a spinner on a terminal, plain lines elsewhere). */
export function progressMode(option: unknown, env: NodeJS.ProcessEnv): ProgressMode {
  const value = option === undefined ? env.MQBAK_PROGRESS || 'auto' : String(option);
  if (!(PROGRESS_MODES as readonly string[]).includes(value)) {
    throw new MqbakError('usage', `${option === undefined ? 'MQBAK_PROGRESS=' : '--progress '}${value}: expected auto, plain or json`);
  }
  return value as ProgressMode;
}
