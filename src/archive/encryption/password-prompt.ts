/**
 * Asking for a password on a terminal without showing it. The helpers take their streams as
 * arguments (the CLI passes process.stdin and process.stderr), so nothing here prints on its own.
 *
 * On a terminal the input is put in raw mode: nothing typed is echoed, Enter ends the line,
 * Backspace removes the last character, Ctrl-U clears the line, Ctrl-C is an interruption and
 * Ctrl-D on an empty line gives up. Raw mode is always restored, also on errors. Input that is
 * not a terminal (a pipe) is read a line at a time, which the tests use.
 */
import { MqbakError } from '../../common/errors.js';

export interface PromptInput {
  isTTY?: boolean;
  setRawMode?: (raw: boolean) => unknown;
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
  removeListener(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  removeListener(event: 'end', listener: () => void): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface PromptOutput {
  write(text: string): unknown;
}

const CTRL_C = 0x03;
const CTRL_D = 0x04;
const BACKSPACE = 0x08;
const CTRL_U = 0x15;
const DELETE = 0x7f;

/** Reads lines from `input` without echo; bytes after a line stay for the next line. */
class HiddenLineReader {
  private readonly raw: boolean;
  private pending: number[] = [];
  private line: number[] = [];
  private skipLf = false;
  private ended = false;
  private waiter: { resolve: (b: Buffer) => void; reject: (e: unknown) => void } | null = null;
  private readonly onData = (chunk: Buffer | string) => {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    for (const byte of b) this.pending.push(byte);
    b.fill(0);
    this.pump();
  };
  private readonly onEnd = () => {
    this.ended = true;
    this.pump();
  };

  constructor(private readonly input: PromptInput) {
    this.raw = input.isTTY === true && typeof input.setRawMode === 'function';
    if (this.raw) input.setRawMode!(true);
    input.on('data', this.onData);
    input.on('end', this.onEnd);
    input.resume();
  }

  readLine(): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.pump();
    });
  }

  close(): void {
    this.input.removeListener('data', this.onData);
    this.input.removeListener('end', this.onEnd);
    if (this.raw) this.input.setRawMode!(false);
    this.input.pause();
    this.line.fill(0);
    this.pending.fill(0);
  }

  private finish(result: Buffer | MqbakError): void {
    const w = this.waiter;
    if (w === null) return;
    this.waiter = null;
    this.line.fill(0);
    this.line = [];
    if (result instanceof MqbakError) w.reject(result);
    else w.resolve(result);
  }

  private pump(): void {
    while (this.waiter !== null && this.pending.length > 0) {
      const byte = this.pending.shift()!;
      if (this.skipLf) {
        this.skipLf = false;
        if (byte === 0x0a) continue; // the \n of a pasted or piped \r\n
      }
      if (byte === 0x0d || byte === 0x0a) {
        this.skipLf = byte === 0x0d;
        this.finish(Buffer.from(this.line));
      } else if (this.raw && byte === CTRL_C) {
        this.finish(new MqbakError('interrupted', 'interrupted'));
      } else if (this.raw && byte === CTRL_D) {
        if (this.line.length === 0) this.finish(new MqbakError('usage', 'no password entered'));
        else this.finish(Buffer.from(this.line));
      } else if (this.raw && (byte === DELETE || byte === BACKSPACE)) {
        // drop one whole UTF-8 character: continuation bytes, then its first byte
        while (this.line.length > 0 && (this.line[this.line.length - 1]! & 0xc0) === 0x80) this.line.pop();
        this.line.pop();
      } else if (this.raw && byte === CTRL_U) {
        this.line.fill(0);
        this.line = [];
      } else {
        this.line.push(byte);
      }
    }
    if (this.waiter !== null && this.pending.length === 0 && this.ended) {
      // end of input: a last line without a newline counts, nothing at all does not
      if (this.line.length > 0) this.finish(Buffer.from(this.line));
      else this.finish(new MqbakError('usage', 'no password entered'));
    }
  }
}

async function ask(reader: HiddenLineReader, output: PromptOutput, prompt: string): Promise<Buffer> {
  output.write(prompt);
  try {
    return await reader.readLine();
  } finally {
    // Enter was not echoed either: end the prompt's line
    output.write('\n');
  }
}

/** One password, typed without echo after `prompt`. An empty line is a usage error. */
export async function promptPassword(input: PromptInput, output: PromptOutput, prompt = 'password: '): Promise<Buffer> {
  const reader = new HiddenLineReader(input);
  try {
    const password = await ask(reader, output, prompt);
    if (password.length === 0) throw new MqbakError('usage', 'the password is empty');
    return password;
  } finally {
    reader.close();
  }
}

/** A new password (key init, key add, key passwd), typed twice; the two must be equal. */
export async function promptNewPassword(input: PromptInput, output: PromptOutput, prompt = 'new password: '): Promise<Buffer> {
  const reader = new HiddenLineReader(input);
  try {
    const first = await ask(reader, output, prompt);
    if (first.length === 0) throw new MqbakError('usage', 'the password is empty');
    const second = await ask(reader, output, 'repeat the new password: ');
    const same = first.equals(second);
    second.fill(0);
    if (!same) {
      first.fill(0);
      throw new MqbakError('usage', 'the two passwords differ');
    }
    return first;
  } finally {
    reader.close();
  }
}
