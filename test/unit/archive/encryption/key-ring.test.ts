import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import { createKeyFile } from '../../../../src/archive/encryption/key-file.js';
import { checkKeyRemoval, idOfKeyFileKey, keyFileKey, listKeyFiles, unlockMasterKey } from '../../../../src/archive/encryption/key-ring.js';

const FAST = { N: 1024, r: 8, p: 1 };
const pw = (s: string) => Buffer.from(s);

async function rejection(p: Promise<unknown>): Promise<MqbakError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    return e as MqbakError;
  }
  throw new Error('expected a rejection');
}

describe('the key files of a store', () => {
  it('name keys/<id>.json and back', () => {
    expect(keyFileKey('0a1b2c3d')).toBe('keys/0a1b2c3d.json');
    expect(idOfKeyFileKey('keys/0a1b2c3d.json')).toBe('0a1b2c3d');
    expect(idOfKeyFileKey('keys/0A1B2C3D.json')).toBeNull();
    expect(idOfKeyFileKey('manifests/0a1b2c3d.json')).toBeNull();
  });

  it('open with any of their passwords, skipping a damaged file; a wrong one opens none', async () => {
    const first = await createKeyFile(pw('alpha'), { params: FAST, now: new Date('2026-01-01T00:00:00.000Z') });
    const second = await createKeyFile(pw('beta'), { params: FAST, masterKey: first.masterKey, now: new Date('2026-01-02T00:00:00.000Z') });
    const broken = Buffer.from(first.file);
    broken[10] = broken[10]! ^ 1;
    const files = [
      { key: 'keys/broken00.json', bytes: broken },
      { key: keyFileKey(first.id), bytes: first.file },
      { key: keyFileKey(second.id), bytes: second.file },
    ];
    const a = await unlockMasterKey(files, pw('alpha'));
    expect(a.masterKey.equals(first.masterKey)).toBe(true);
    expect(a.keyId).toBe(first.id);
    expect(a.damaged.map((d) => d.key)).toEqual(['keys/broken00.json']);
    const b = await unlockMasterKey(files, pw('beta'));
    expect(b.keyId).toBe(second.id);
    expect(b.masterKey.equals(first.masterKey)).toBe(true);
    const wrong = await rejection(unlockMasterKey(files, pw('gamma')));
    expect(wrong.code).toBe('usage');
    expect(wrong.message).toBe('wrong password: it opens none of the 2 keys of this store');
    // the password might have been the damaged file's: the hint names it
    expect(wrong.hint).toBe('damaged key file skipped: keys/broken00.json (mqbak key list shows why)');
    expect((await rejection(unlockMasterKey(files.slice(1), pw('gamma')))).hint).toBeUndefined();
    expect((await rejection(unlockMasterKey([files[0]!], pw('alpha')))).code).toBe('integrity');
    const list = listKeyFiles(files);
    expect(list.keys.map((k) => k.id)).toEqual([first.id, second.id]);
    expect(list.damaged).toHaveLength(1);
  });

  it('never lose the last key', () => {
    expect(() => checkKeyRemoval(['aaaaaaaa', 'bbbbbbbb'], 'aaaaaaaa')).not.toThrow();
    const last = (() => {
      try {
        checkKeyRemoval(['aaaaaaaa'], 'aaaaaaaa');
      } catch (e) {
        return e as MqbakError;
      }
      throw new Error('expected a throw');
    })();
    expect(last.code).toBe('usage');
    expect(last.message).toContain('last key');
    expect(() => checkKeyRemoval(['aaaaaaaa'], 'cccccccc')).toThrow(/no key cccccccc/);
  });
});
