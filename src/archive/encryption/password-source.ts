/**
 * Where the password of an encrypted store comes from, and reading it from there. Never from a
 * command-line argument: arguments show in `ps` and in shell history.
 *
 * Choice (choosePasswordSource, pure): an option given on the command line wins over the
 * environment; two options, or two of the environment variables, are a usage error rather than
 * a silent preference. Then a prompt when mqbak runs on a terminal, else none (the caller says
 * the store needs a password).
 *
 *   --password-file FILE     or MQBAK_PASSWORD_FILE     the file's bytes, one trailing newline removed
 *   --password-command CMD   or MQBAK_PASSWORD_COMMAND  run with the shell, its standard output
 *                            MQBAK_PASSWORD             the value itself
 *
 * Passwords are bytes (UTF-8 for what is typed or set in the environment), used exactly as
 * given: no Unicode normalization, no trimming beyond one final newline.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { MqbakError } from '../../common/errors.js';

export type PasswordSource =
  | { kind: 'env'; variable: 'MQBAK_PASSWORD' }
  | { kind: 'file'; path: string; from: '--password-file' | 'MQBAK_PASSWORD_FILE' | '--new-password-file' }
  | { kind: 'command'; command: string; from: '--password-command' | 'MQBAK_PASSWORD_COMMAND' }
  | { kind: 'prompt' }
  | { kind: 'none' };

export interface PasswordOptions {
  passwordFile?: string | undefined;
  passwordCommand?: string | undefined;
}

const ENV_SOURCES = ['MQBAK_PASSWORD', 'MQBAK_PASSWORD_FILE', 'MQBAK_PASSWORD_COMMAND'] as const;

/** Which source to read; `interactive`: standard input and error are a terminal. */
export function choosePasswordSource(options: PasswordOptions, env: NodeJS.ProcessEnv, interactive: boolean): PasswordSource {
  const set = (v: string | undefined): v is string => v !== undefined && v !== '';
  if (set(options.passwordFile) && set(options.passwordCommand)) {
    throw new MqbakError('usage', '--password-file and --password-command exclude each other');
  }
  if (set(options.passwordFile)) return { kind: 'file', path: options.passwordFile, from: '--password-file' };
  if (set(options.passwordCommand)) return { kind: 'command', command: options.passwordCommand, from: '--password-command' };
  const given = ENV_SOURCES.filter((name) => set(env[name]));
  if (given.length > 1) {
    throw new MqbakError('usage', `${given.join(' and ')} are both set: set one`);
  }
  if (given[0] === 'MQBAK_PASSWORD_FILE') return { kind: 'file', path: env.MQBAK_PASSWORD_FILE!, from: 'MQBAK_PASSWORD_FILE' };
  if (given[0] === 'MQBAK_PASSWORD_COMMAND') return { kind: 'command', command: env.MQBAK_PASSWORD_COMMAND!, from: 'MQBAK_PASSWORD_COMMAND' };
  if (given[0] === 'MQBAK_PASSWORD') return { kind: 'env', variable: 'MQBAK_PASSWORD' };
  return interactive ? { kind: 'prompt' } : { kind: 'none' };
}

/** A short name of the source for messages; never the password, never a command's output. */
export function describePasswordSource(s: PasswordSource): string {
  switch (s.kind) {
    case 'env':
      return s.variable;
    case 'file':
      return `${s.from} ${s.path}`;
    case 'command':
      return `${s.from} (${s.command})`;
    case 'prompt':
      return 'the prompt';
    case 'none':
      return 'nowhere';
  }
}

/** `bytes` without one final "\n" or "\r\n" (what `echo` and editors add). */
export function stripOneNewline(bytes: Buffer): Buffer {
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0a) {
    const cr = bytes.length > 1 && bytes[bytes.length - 2] === 0x0d;
    return bytes.subarray(0, bytes.length - (cr ? 2 : 1));
  }
  return bytes;
}

function nonEmpty(password: Buffer, from: string): Buffer {
  if (password.length === 0) throw new MqbakError('usage', `the password from ${from} is empty`);
  return password;
}

export async function readPasswordFile(path: string, from = '--password-file'): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    throw new MqbakError('usage', `${from} ${path}: cannot read it (${code})`);
  }
  return nonEmpty(stripOneNewline(bytes), `${from} ${path}`);
}

export interface PasswordCommandOptions {
  env?: NodeJS.ProcessEnv;
  /** the command's standard error: the user's (default), so that e.g. a vault login error shows */
  stderr?: 'inherit' | 'ignore';
  /** default 120 s: a cron job must not hang on a command waiting for input that never comes */
  timeoutMs?: number;
  /** what is named in errors; default --password-command */
  from?: string;
}

const MAX_OUTPUT = 64 * 1024;

/**
 * The standard output of `command` run with the shell, one trailing newline removed. A non-zero
 * exit, a signal, a timeout or too much output is MqbakError 'usage' naming the command and never
 * quoting its output (which may be the password, or part of it).
 */
export async function runPasswordCommand(command: string, options: PasswordCommandOptions = {}): Promise<Buffer> {
  const from = options.from ?? '--password-command';
  const timeoutMs = options.timeoutMs ?? 120_000;
  return new Promise<Buffer>((resolve, reject) => {
    const child = spawn(command, {
      shell: true,
      env: options.env ?? process.env,
      // standard input stays the user's: a command may ask for its own passphrase (gpg, a vault login)
      stdio: ['inherit', 'pipe', options.stderr ?? 'inherit'],
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let problem: string | null = null;
    const stop = (why: string) => {
      problem ??= why;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop(`did not finish within ${timeoutMs / 1000} s`), timeoutMs);
    child.stdout!.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_OUTPUT) stop(`wrote more than ${MAX_OUTPUT} bytes`);
      else chunks.push(c);
    });
    const fail = (why: string) => reject(new MqbakError('usage', `${from} (${command}) ${why}`));
    child.on('error', (e) => {
      clearTimeout(timer);
      fail(`could not be started: ${e.message}`);
    });
    // After a kill, give up at the shell's exit rather than at 'close': a process the shell
    // started may still hold standard output open (it is left to finish on its own).
    child.on('exit', () => {
      if (problem === null) return;
      clearTimeout(timer);
      child.stdout!.destroy();
      fail(problem);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(chunks);
      if (problem !== null) return;
      if (signal !== null) return fail(`was killed by ${signal}`);
      if (code !== 0) return fail(`failed with exit status ${code}`);
      try {
        // a copy: the output buffer is overwritten below
        resolve(Buffer.from(nonEmpty(stripOneNewline(out), `${from} (${command})`)));
      } catch (e) {
        reject(e);
      }
      out.fill(0);
    });
  });
}

export interface PasswordReadIo {
  env: NodeJS.ProcessEnv;
  /** asks on the terminal (password-prompt.ts promptPassword bound to the process's streams) */
  prompt: () => Promise<Buffer>;
  command?: Omit<PasswordCommandOptions, 'from' | 'env'>;
}

/** The password from `source`. 'none' is a usage error saying where a password can come from. */
export async function readPassword(source: PasswordSource, io: PasswordReadIo): Promise<Buffer> {
  switch (source.kind) {
    case 'env':
      return nonEmpty(Buffer.from(io.env[source.variable] ?? '', 'utf8'), source.variable);
    case 'file':
      return readPasswordFile(source.path, source.from);
    case 'command':
      return runPasswordCommand(source.command, { ...io.command, env: io.env, from: source.from });
    case 'prompt':
      return io.prompt();
    case 'none':
      throw new MqbakError('usage', 'this store is encrypted and no password was given', {
        hint: 'set MQBAK_PASSWORD_FILE (or MQBAK_PASSWORD_COMMAND, MQBAK_PASSWORD), or pass --password-file / --password-command',
      });
  }
}
