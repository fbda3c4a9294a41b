import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import { promptNewPassword, promptPassword } from '../../../../src/archive/encryption/password-prompt.js';

/** A stream standing for a terminal: records raw-mode switches (the helper's only terminal call). */
function terminal(): PassThrough & { isTTY: boolean; setRawMode: (r: boolean) => void; modes: boolean[] } {
  const t = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode: (r: boolean) => void; modes: boolean[] };
  t.isTTY = true;
  t.modes = [];
  t.setRawMode = (r: boolean) => t.modes.push(r);
  return t;
}

function screen(): { write: (s: string) => void; text: () => string } {
  let out = '';
  return { write: (s: string) => void (out += s), text: () => out };
}

async function rejection(p: Promise<unknown>): Promise<MqbakError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    return e as MqbakError;
  }
  throw new Error('expected a rejection');
}

describe('password prompt', () => {
  it('reads a line in raw mode, echoes nothing, restores the terminal', async () => {
    const input = terminal();
    const out = screen();
    const p = promptPassword(input, out, 'password for store: ');
    input.write('hunter');
    input.write('2\r');
    expect((await p).toString()).toBe('hunter2');
    expect(out.text()).toBe('password for store: \n');
    expect(input.modes).toEqual([true, false]);
  });

  it('handles Backspace over multi-byte characters and Ctrl-U', async () => {
    const input = terminal();
    const p = promptPassword(input, screen());
    input.write(Buffer.from('abé\x7f\x7fc\x15xyzé\x08ü\r', 'utf8'));
    expect((await p).toString('utf8')).toBe('xyzü');
  });

  it('Ctrl-C is an interruption, Ctrl-D or an empty line gives up; raw mode is restored each time', async () => {
    for (const [keys, code] of [
      ['ab\x03', 'interrupted'],
      ['\x04', 'usage'],
      ['\r', 'usage'],
    ] as const) {
      const input = terminal();
      const p = promptPassword(input, screen());
      input.write(keys);
      expect((await rejection(p)).code).toBe(code);
      expect(input.modes).toEqual([true, false]);
    }
  });

  it('a new password is asked twice and must match', async () => {
    const input = terminal();
    const out = screen();
    const p = promptNewPassword(input, out);
    input.write('new one\rnew one\r');
    expect((await p).toString()).toBe('new one');
    expect(out.text()).toBe('new password: \nrepeat the new password: \n');

    const input2 = terminal();
    const p2 = promptNewPassword(input2, screen());
    input2.write('first\r\nsecond\r');
    const e = await rejection(p2);
    expect(e.message).toBe('the two passwords differ');
    expect(input2.modes).toEqual([true, false]);
  });

  it('reads lines from a pipe too (no raw mode), also a last line without a newline', async () => {
    const pipe = new PassThrough();
    const p = promptNewPassword(pipe, screen());
    pipe.end('piped\npiped');
    expect((await p).toString()).toBe('piped');
    const empty = new PassThrough();
    const q = promptPassword(empty, screen());
    empty.end();
    expect((await rejection(q)).message).toBe('no password entered');
  });
});
