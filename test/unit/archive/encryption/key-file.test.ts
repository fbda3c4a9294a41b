import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import { createKeyFile, openKeyFile, readKeyFileInfo, rewrapKeyFile } from '../../../../src/archive/encryption/key-file.js';
import { canonicalJson } from '../../../../src/common/canonical-json.js';
import { createHash } from 'node:crypto';

// the cheapest cost key files accept: these tests are about the format, not the cost
const FAST = { N: 1024, r: 8, p: 1 };
const pw = (s: string) => Buffer.from(s, 'utf8');

async function rejection(p: Promise<unknown>): Promise<MqbakError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    return e as MqbakError;
  }
  throw new Error('expected a rejection');
}

/** The file with `edit` applied to its JSON and its checksum made right again. */
function reChecksummed(file: Uint8Array, edit: (o: Record<string, unknown>) => void): Buffer {
  const o = JSON.parse(Buffer.from(file).toString('utf8')) as Record<string, unknown>;
  edit(o);
  delete o.checksum;
  o.checksum = 'sha256:' + createHash('sha256').update(canonicalJson(o, 2) + '\n').digest('hex');
  return Buffer.from(canonicalJson(o, 2) + '\n');
}

describe('key files', () => {
  it('open with their password to the master key they were made with', async () => {
    const made = await createKeyFile(pw('s3cret pässword'), { params: FAST, description: 'ops vault copy' });
    expect(made.masterKey).toHaveLength(32);
    const opened = await openKeyFile(made.file, pw('s3cret pässword'));
    expect(opened.equals(made.masterKey)).toBe(true);
    const info = readKeyFileInfo(made.file);
    expect(info).toMatchObject({ id: made.id, description: 'ops vault copy', kdf: FAST });
    expect(info.id).toMatch(/^[0-9a-f]{8}$/);
  });

  it('are canonical JSON with no host or user name, and the master key appears nowhere in them', async () => {
    const made = await createKeyFile(pw('pw'), { params: FAST });
    const text = Buffer.from(made.file).toString('utf8');
    const o = JSON.parse(text) as Record<string, unknown>;
    expect(text).toBe(canonicalJson(o, 2) + '\n');
    expect(Object.keys(o).sort()).toEqual(['checksum', 'cipher', 'created', 'description', 'format', 'id', 'kdf', 'nonce', 'tag', 'version', 'wrappedKey']);
    expect(o).toMatchObject({ format: 'mqbak-key', version: 1, cipher: 'aes-256-gcm', description: '' });
    const { hostname, userInfo } = await import('node:os');
    // as whole JSON strings: a short host name ("vm") turns up by chance inside base64 values
    const strings = JSON.stringify(o).match(/"(?:[^"\\]|\\.)*"/g) ?? [];
    for (const name of [hostname(), userInfo().username]) expect(strings.filter((x) => x.slice(1, -1).split(/[^A-Za-z0-9._-]/).includes(name))).toEqual([]);
    expect(Buffer.from(made.file).includes(made.masterKey)).toBe(false);
    expect(text).not.toContain(made.masterKey.toString('base64'));
    expect(text).not.toContain(made.masterKey.toString('hex'));
  });

  it('give a different master key, salt and id each time', async () => {
    const a = await createKeyFile(pw('same'), { params: FAST });
    const b = await createKeyFile(pw('same'), { params: FAST });
    expect(a.masterKey.equals(b.masterKey)).toBe(false);
    expect(a.id).not.toBe(b.id);
    const ja = JSON.parse(Buffer.from(a.file).toString()) as { kdf: { salt: string }; nonce: string };
    const jb = JSON.parse(Buffer.from(b.file).toString()) as { kdf: { salt: string }; nonce: string };
    expect(ja.kdf.salt).not.toBe(jb.kdf.salt);
    expect(Buffer.from(ja.kdf.salt, 'base64')).toHaveLength(32);
  });

  it('refuse a wrong password with one usage line naming the key', async () => {
    const made = await createKeyFile(pw('right'), { params: FAST });
    const e = await rejection(openKeyFile(made.file, pw('wrong')));
    expect(e.code).toBe('usage');
    expect(e.message).toBe(`wrong password for key ${made.id}`);
    expect(e.message).not.toContain('\n');
    expect((await rejection(openKeyFile(made.file, pw('right ')))).code).toBe('usage');
  });

  it('report a damaged file as integrity, whichever byte changed', async () => {
    const made = await createKeyFile(pw('right'), { params: FAST });
    // every byte of the file, flipped one at a time (a sample of positions keeps it fast)
    for (let i = 0; i < made.file.length; i += 7) {
      const bad = Buffer.from(made.file);
      bad[i] = bad[i]! ^ 0x01;
      const e = await rejection(openKeyFile(bad, pw('right')));
      expect(e.code, `byte ${i}`).toBe('integrity');
    }
    expect((await rejection(openKeyFile(made.file.subarray(0, 100), pw('right')))).code).toBe('integrity');
    expect((await rejection(openKeyFile(Buffer.from('{}'), pw('right')))).code).toBe('integrity');
  });

  it('bind every field into the wrap: an edit with a recomputed checksum no longer opens', async () => {
    const made = await createKeyFile(pw('right'), { params: FAST, now: new Date('2026-01-01T00:00:00.000Z') });
    const edits: Array<(o: Record<string, any>) => void> = [
      (o) => (o.id = 'ffffffff'),
      (o) => (o.created = '2030-01-01T00:00:00.000Z'),
      (o) => (o.description = 'renamed'),
      (o) => (o.kdf.salt = Buffer.alloc(32, 1).toString('base64')),
      (o) => (o.kdf.N = 2048),
    ];
    for (const edit of edits) {
      const e = await rejection(openKeyFile(reChecksummed(made.file, edit), pw('right')));
      expect(e.code).toBe('usage');
      expect(e.message).toMatch(/^wrong password for key /);
    }
    // the unedited, re-checksummed file still opens: the checks above failed for the edit alone
    expect((await openKeyFile(reChecksummed(made.file, () => {}), pw('right'))).equals(made.masterKey)).toBe(true);
  });

  it('refuse a newer version as unsupported and unknown fields or algorithms', async () => {
    const made = await createKeyFile(pw('p'), { params: FAST });
    expect((await rejection(openKeyFile(reChecksummed(made.file, (o) => (o.version = 2)), pw('p')))).code).toBe('unsupported');
    expect((await rejection(openKeyFile(reChecksummed(made.file, (o: any) => (o.kdf.algorithm = 'argon2id')), pw('p')))).code).toBe('unsupported');
    expect((await rejection(openKeyFile(reChecksummed(made.file, (o) => (o.extra = 1)), pw('p')))).code).toBe('integrity');
    // a hostile cost is refused before any memory is asked for
    const huge = reChecksummed(made.file, (o: any) => (o.kdf.N = 2 ** 30));
    const e = await rejection(openKeyFile(huge, pw('p')));
    expect(e.code).toBe('unsupported');
    expect(e.message).toContain('1 GiB');
  });

  it('rewrap: the new password opens the same master key, the old one does not open the new file', async () => {
    const first = await createKeyFile(pw('old'), { params: FAST });
    const second = await rewrapKeyFile(first.file, pw('old'), pw('new'), { params: FAST, description: 'rotated' });
    expect(second.id).not.toBe(first.id);
    expect((await openKeyFile(second.file, pw('new'))).equals(first.masterKey)).toBe(true);
    expect((await rejection(openKeyFile(second.file, pw('old')))).code).toBe('usage');
    expect((await openKeyFile(first.file, pw('old'))).equals(first.masterKey)).toBe(true);
    expect((await rejection(rewrapKeyFile(first.file, pw('nope'), pw('new'), { params: FAST }))).code).toBe('usage');
  });

  it('key add: a second file for an existing master key', async () => {
    const first = await createKeyFile(pw('a'), { params: FAST });
    const master = await openKeyFile(first.file, pw('a'));
    const added = await createKeyFile(pw('b'), { params: FAST, masterKey: master });
    expect((await openKeyFile(added.file, pw('b'))).equals(first.masterKey)).toBe(true);
  });

  it('refuse an empty password, weak or absurd costs and multi-line descriptions', async () => {
    expect((await rejection(createKeyFile(pw(''), { params: FAST }))).code).toBe('usage');
    expect((await rejection(createKeyFile(pw('x'), { params: { N: 512, r: 8, p: 1 } }))).code).toBe('usage');
    expect((await rejection(createKeyFile(pw('x'), { params: { N: 3000, r: 8, p: 1 } }))).code).toBe('usage');
    expect((await rejection(createKeyFile(pw('x'), { params: FAST, description: 'two\nlines' }))).code).toBe('usage');
  });
});
