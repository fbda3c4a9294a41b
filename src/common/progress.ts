/**
 * How the core reports what it is doing. The core never prints: the CLI renders these events
 * (a spinner on a terminal, throttled plain lines otherwise, nothing with --quiet).
 */
export interface Progress {
  /** A new phase of the work, e.g. "backing up orders[0]". */
  phase(message: string): void;
  /** Counters so far; `total` when it is known. Called often: renderers throttle. */
  update(counts: ProgressCounts): void;
  /** Something the user should know that does not stop the work. */
  warn(message: string): void;
  /** A fact worth a line in verbose output. */
  info(message: string): void;
}

export interface ProgressCounts {
  stream?: string;
  records: number;
  bytes?: number;
  total?: number;
}

export const silentProgress: Progress = {
  phase() {},
  update() {},
  warn() {},
  info() {},
};
