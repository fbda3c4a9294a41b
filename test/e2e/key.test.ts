import { spawn, spawnSync } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MQBAK_BIN, runMqbak, type RunResult } from '../helpers/run-mqbak.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/store-v2/', import.meta.url));
// the lowest scrypt cost mqbak accepts: key files made here take a millisecond, not half a second
const CHEAP = ['--scrypt-n', '1024'];

let dir: string;
let store: string;
const pw = (name: string) => join(dir, name);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mqbak-key-'));
  store = join(dir, 'store');
  await writeFile(pw('one'), 'first password\n');
  await writeFile(pw('two'), 'second password\n');
  await writeFile(pw('bad'), 'not the password\n');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function oneErrorLine(r: RunResult, re: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n').filter((l) => !l.startsWith('hint: '));
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(re);
}

async function keyIds(): Promise<string[]> {
  const r = await runMqbak(['key', 'list', store, '--json']);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { keys: Array<{ id: string }> }).keys.map((k) => k.id);
}

async function keyFiles(): Promise<string[]> {
  return (await readdir(join(store, 'keys'))).sort();
}

describe('mqbak key', () => {
  it('init makes one key file; list shows it; a second init is refused', async () => {
    const r = await runMqbak(['key', 'init', store, '--new-password-file', pw('one'), '--description', 'cron', ...CHEAP]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^created key [0-9a-f]{8}: /);
    const files = await keyFiles();
    expect(files).toHaveLength(1);
    const file = JSON.parse(await readFile(join(store, 'keys', files[0]!), 'utf8'));
    expect(file).toMatchObject({ format: 'mqbak-key', version: 1, description: 'cron', kdf: { algorithm: 'scrypt', N: 1024 } });
    expect(await keyIds()).toEqual([files[0]!.replace('.json', '')]);
    const again = await runMqbak(['key', 'init', store, '--new-password-file', pw('two'), ...CHEAP]);
    expect(again.code).toBe(2);
    oneErrorLine(again, /already encrypted/);
    expect(await keyFiles()).toEqual(files);
  });

  it('init refuses a store that holds unencrypted backups (exit 2) and writes nothing', async () => {
    await cp(FIXTURE, store, { recursive: true });
    const r = await runMqbak(['key', 'init', store, '--new-password-file', pw('one'), ...CHEAP]);
    expect(r.code).toBe(2);
    oneErrorLine(r, /already holds unencrypted backups/);
    expect(await readdir(store)).not.toContain('keys');
  });

  it('add, then remove the first: the old password fails, the new one opens the store', async () => {
    expect((await runMqbak(['key', 'init', store, '--new-password-file', pw('one'), ...CHEAP])).code).toBe(0);
    const [first] = await keyIds();
    const wrong = await runMqbak(['key', 'add', store, '--new-password-file', pw('two'), ...CHEAP], { env: { MQBAK_PASSWORD_FILE: pw('bad') } });
    expect(wrong.code).toBe(2);
    oneErrorLine(wrong, /^mqbak: error: wrong password/);
    expect(await keyFiles()).toHaveLength(1);

    const add = await runMqbak(['key', 'add', store, '--new-password-file', pw('two'), ...CHEAP], { env: { MQBAK_PASSWORD_FILE: pw('one') } });
    expect(add.code).toBe(0);
    expect(await keyIds()).toHaveLength(2);
    // the key a password opens is not removed with that same password
    const self = await runMqbak(['key', 'remove', store, first!, '--password-file', pw('one')]);
    expect(self.code).toBe(2);
    expect(self.stderr).toContain('is the one this password opens');
    // the password comes from a command too
    const rm1 = await runMqbak(['key', 'remove', store, first!, '--password-command', `cat '${pw('two')}'`]);
    expect(rm1.code).toBe(0);
    expect(await keyIds()).toHaveLength(1);
    // the old password opens nothing now; the new one does (add checks it)
    const old = await runMqbak(['key', 'add', store, '--new-password-file', pw('bad'), ...CHEAP], { env: { MQBAK_PASSWORD: 'first password' } });
    expect(old.code).toBe(2);
    oneErrorLine(old, /wrong password/);
    const last = (await keyIds())[0]!;
    const never = await runMqbak(['key', 'remove', store, last, '--password-file', pw('two')]);
    expect(never.code).toBe(2);
    expect(never.stderr).toContain('last key');
    expect(await keyIds()).toEqual([last]);
  });

  it('passwd replaces the key file: the old password fails, the new one works', async () => {
    expect((await runMqbak(['key', 'init', store, '--new-password-file', pw('one'), ...CHEAP])).code).toBe(0);
    const before = await keyFiles();
    const r = await runMqbak(['key', 'passwd', store, '--new-password-file', pw('two'), ...CHEAP, '--json'], { env: { MQBAK_PASSWORD_FILE: pw('one') } });
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as { removed: string; added: { id: string } };
    expect(before).toEqual([`${j.removed}.json`]);
    expect(await keyFiles()).toEqual([`${j.added.id}.json`]);
    const old = await runMqbak(['key', 'passwd', store, '--new-password-file', pw('bad'), ...CHEAP], { env: { MQBAK_PASSWORD_FILE: pw('one') } });
    expect(old.code).toBe(2);
    const ok = await runMqbak(['key', 'add', store, '--new-password-file', pw('bad'), ...CHEAP], { env: { MQBAK_PASSWORD_FILE: pw('two') } });
    expect(ok.code).toBe(0);
  });

  it('without a terminal: no password is a usage error, and a password is never an argument', async () => {
    expect((await runMqbak(['key', 'init', store, ...CHEAP])).code).toBe(2);
    expect((await runMqbak(['key', 'init', store, '--new-password-file', pw('one'), ...CHEAP])).code).toBe(0);
    const none = await runMqbak(['key', 'add', store, '--new-password-file', pw('two'), ...CHEAP]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no password was given');
    const arg = await runMqbak(['key', 'add', store, '--password', 'first password']);
    expect(arg.code).toBe(2);
    const both = await runMqbak(['key', 'list', store], { env: { MQBAK_PASSWORD: 'x', MQBAK_PASSWORD_FILE: pw('one') } });
    expect(both.code).toBe(0); // list needs no password
    const two = await runMqbak(['key', 'add', store, '--new-password-file', pw('two')], { env: { MQBAK_PASSWORD: 'x', MQBAK_PASSWORD_FILE: pw('one') } });
    expect(two.code).toBe(2);
    expect(two.stderr).toContain('are both set');
    expect((await runMqbak(['key', 'list', join(dir, 'plain')])).code).toBe(2);
  });

  // util-linux script(1) gives mqbak a terminal; what it echoes back is the terminal's output
  const haveScript = spawnSync('script', ['--version']).status === 0;
  it.skipIf(!haveScript)('on a terminal: the new password is asked twice and the password once, never echoed', async () => {
    const onTerminal = (args: string[], typed: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        const cmd = [process.execPath, MQBAK_BIN, ...args].map((a) => `'${a}'`).join(' ');
        const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
        for (const k of ['MQBAK_PASSWORD', 'MQBAK_PASSWORD_FILE', 'MQBAK_PASSWORD_COMMAND']) delete env[k];
        const child = spawn('script', ['-qec', cmd, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'inherit'] });
        let out = '';
        let answered = 0;
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          // answer each prompt as it appears
          const asked = (out.match(/password: /g) ?? []).length;
          while (typed.length > 0 && asked > 0 && asked > answered) {
            child.stdin.write(`${typed.shift()}\r`);
            answered++;
          }
        });
        child.on('error', reject);
        child.on('close', () => resolve(out));
      });
    const init = await onTerminal(['key', 'init', store, ...CHEAP], ['typed secret', 'typed secret']);
    expect(init).toContain('new password: ');
    expect(init).toContain('repeat the new password: ');
    expect(init).toMatch(/created key [0-9a-f]{8}/);
    expect(init).not.toContain('typed secret');
    const list = await onTerminal(['key', 'add', store, '--new-password-file', pw('two'), ...CHEAP], ['typed secret']);
    expect(list).toContain('current password: ');
    expect(list).toMatch(/added key [0-9a-f]{8}/);
    expect(list).not.toContain('typed secret');
    expect(await keyIds()).toHaveLength(2);
  });

  it('help lists the subcommands with examples', async () => {
    const r = await runMqbak(['key', 'init', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--new-password-file');
    expect(r.stdout).toContain('EXAMPLES');
    expect(r.stdout).toContain('PASSWORDS');
  });
});
