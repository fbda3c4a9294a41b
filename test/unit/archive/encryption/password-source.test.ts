import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import {
  choosePasswordSource,
  describePasswordSource,
  readPassword,
  readPasswordFile,
  runPasswordCommand,
  stripOneNewline,
} from '../../../../src/archive/encryption/password-source.js';

const dir = mkdtempSync(join(tmpdir(), 'mqbak-pw-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function rejection(p: Promise<unknown>): Promise<MqbakError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    return e as MqbakError;
  }
  throw new Error('expected a rejection');
}

function thrown(f: () => unknown): MqbakError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    return e as MqbakError;
  }
  throw new Error('expected a throw');
}

const noPrompt = async (): Promise<Buffer> => {
  throw new Error('must not prompt');
};

describe('choosing the password source', () => {
  it('options win over the environment, the environment over the prompt', () => {
    const env = { MQBAK_PASSWORD: 'x' };
    expect(choosePasswordSource({ passwordFile: '/p' }, env, true)).toEqual({ kind: 'file', path: '/p', from: '--password-file' });
    expect(choosePasswordSource({ passwordCommand: 'pass show mq' }, env, true)).toEqual({ kind: 'command', command: 'pass show mq', from: '--password-command' });
    expect(choosePasswordSource({}, env, true)).toEqual({ kind: 'env', variable: 'MQBAK_PASSWORD' });
    expect(choosePasswordSource({}, { MQBAK_PASSWORD_FILE: '/f' }, false)).toEqual({ kind: 'file', path: '/f', from: 'MQBAK_PASSWORD_FILE' });
    expect(choosePasswordSource({}, { MQBAK_PASSWORD_COMMAND: 'c' }, false)).toEqual({ kind: 'command', command: 'c', from: 'MQBAK_PASSWORD_COMMAND' });
    expect(choosePasswordSource({}, {}, true)).toEqual({ kind: 'prompt' });
    expect(choosePasswordSource({}, { MQBAK_PASSWORD: '' }, false)).toEqual({ kind: 'none' });
  });

  it('two options or two variables are a usage error, not a silent choice', () => {
    expect(thrown(() => choosePasswordSource({ passwordFile: 'a', passwordCommand: 'b' }, {}, true)).code).toBe('usage');
    const e = thrown(() => choosePasswordSource({}, { MQBAK_PASSWORD: 'a', MQBAK_PASSWORD_FILE: 'b' }, true));
    expect(e.code).toBe('usage');
    expect(e.message).toBe('MQBAK_PASSWORD and MQBAK_PASSWORD_FILE are both set: set one');
    expect(e.message).not.toContain('"a"');
  });

  it('describes a source without its secret', () => {
    expect(describePasswordSource({ kind: 'env', variable: 'MQBAK_PASSWORD' })).toBe('MQBAK_PASSWORD');
    expect(describePasswordSource({ kind: 'file', path: '/etc/mqbak/pw', from: 'MQBAK_PASSWORD_FILE' })).toBe('MQBAK_PASSWORD_FILE /etc/mqbak/pw');
  });
});

describe('reading the password', () => {
  it('from a file: exactly one trailing newline removed, other bytes kept', async () => {
    const cases: Array<[string, string]> = [
      ['pw\n', 'pw'],
      ['pw\r\n', 'pw'],
      ['pw\n\n', 'pw\n'],
      [' pw ', ' pw '],
      ['pässwörd\n', 'pässwörd'],
    ];
    for (const [i, [content, expected]] of cases.entries()) {
      const f = join(dir, `pw${i}`);
      writeFileSync(f, content);
      expect((await readPasswordFile(f)).toString('utf8')).toBe(expected);
    }
    expect(stripOneNewline(Buffer.from('\n')).length).toBe(0);
  });

  it('from a missing or empty file: usage errors naming the file', async () => {
    const missing = await rejection(readPasswordFile(join(dir, 'nope'), 'MQBAK_PASSWORD_FILE'));
    expect(missing.code).toBe('usage');
    expect(missing.message).toBe(`MQBAK_PASSWORD_FILE ${join(dir, 'nope')}: cannot read it (ENOENT)`);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '\n');
    expect((await rejection(readPasswordFile(empty))).message).toMatch(/is empty$/);
  });

  it('from a command: its standard output through the shell, one newline removed', async () => {
    expect((await runPasswordCommand("printf 'from a command\\n'")).toString()).toBe('from a command');
    expect((await runPasswordCommand('echo "$SECRET_FOR_TEST" | tr a-z A-Z', { env: { ...process.env, SECRET_FOR_TEST: 'abc' } })).toString()).toBe('ABC');
  });

  it('from a failing command: usage error naming the command, never quoting its output', async () => {
    const e = await rejection(runPasswordCommand('echo leaked-secret; echo leaked-err >&2; exit 3', { stderr: 'ignore' }));
    expect(e.code).toBe('usage');
    expect(e.message).toBe('--password-command (echo leaked-secret; echo leaked-err >&2; exit 3) failed with exit status 3');
    // the command text is named (it is what the user configured); what it printed is not added
    expect(e.message.split('leaked-secret').length).toBe(2);
    expect(e.hint).toBeUndefined();
    const killed = await rejection(runPasswordCommand('sleep 5', { timeoutMs: 200, from: 'MQBAK_PASSWORD_COMMAND' }));
    expect(killed.message).toBe('MQBAK_PASSWORD_COMMAND (sleep 5) did not finish within 0.2 s');
    expect((await rejection(runPasswordCommand('true'))).message).toBe('the password from --password-command (true) is empty');
    expect((await rejection(runPasswordCommand('head -c 70000 /dev/zero'))).message).toMatch(/wrote more than 65536 bytes$/);
  });

  it('readPassword follows the chosen source; none says where a password can come from', async () => {
    const env = { MQBAK_PASSWORD: 'from env' };
    expect((await readPassword({ kind: 'env', variable: 'MQBAK_PASSWORD' }, { env, prompt: noPrompt })).toString()).toBe('from env');
    expect((await readPassword({ kind: 'prompt' }, { env, prompt: async () => Buffer.from('typed') })).toString()).toBe('typed');
    const none = await rejection(readPassword({ kind: 'none' }, { env: {}, prompt: noPrompt }));
    expect(none.code).toBe('usage');
    expect(none.hint).toContain('MQBAK_PASSWORD_FILE');
  });
});
