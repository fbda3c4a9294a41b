/**
 * One error type for everything mqbak reports on purpose. The `code` is stable (users and tests
 * may match on it); only the CLI turns a code into an exit status (see src/cli/exit-codes.ts).
 */
export type ErrorCode =
  | 'usage' // bad arguments or configuration
  | 'partial' // some records were not backed up or not republished
  | 'integrity' // an archive failed a length, checksum or hash check
  | 'unreachable' // a broker or store could not be reached, or refused, after retries
  | 'not-found' // a backup, stream, object or bucket does not exist
  | 'exists' // a write-once object already exists
  | 'unsupported' // an archive format version this mqbak does not know
  | 'interrupted' // SIGINT / SIGTERM / aborted
  | 'internal'; // a bug

export interface ErrorOptions {
  hint?: string;
  retriable?: boolean;
  cause?: unknown;
}

export class MqbakError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: ErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MqbakError';
    this.code = code;
    this.hint = options.hint;
    this.retriable = options.retriable ?? false;
  }
}

export function isMqbakError(e: unknown): e is MqbakError {
  return e instanceof MqbakError;
}

/**
 * Adds context at a boundary ("read segment <key>: ...") while keeping the code and hint of an
 * MqbakError; anything else becomes `fallback` (default internal).
 */
export function withContext(e: unknown, context: string, fallback: ErrorCode = 'internal'): MqbakError {
  if (e instanceof MqbakError) {
    // already said by the layer below ("queue big: ..."): not twice
    const message = e.message.startsWith(`${context}: `) ? e.message : `${context}: ${e.message}`;
    const wrapped = new MqbakError(e.code, message, {
      hint: e.hint,
      retriable: e.retriable,
      cause: e,
    });
    return wrapped;
  }
  return new MqbakError(fallback, `${context}: ${messageOf(e)}`, { cause: e });
}

/** The message of anything thrown: an Error's message, anything else as a string. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Thrown by long operations when their AbortSignal fires. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new MqbakError('interrupted', 'interrupted');
}
