/**
 * restore's output files (src/cli/restore-files.ts): the offset map's place made sure of before
 * the restore starts, written under a temporary name and renamed only on commit; the journal's
 * folder made and tried.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkJournalPlace, openOffsetMap } from '../../../src/cli/restore-files.js';

describe('restore files', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mqbak-restore-files-'));
    await writeFile(path.join(dir, 'a-file'), 'x');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the offset map: a temporary file beside it now, the name only on commit; discard leaves an earlier file as it was', async () => {
    const map = path.join(dir, 'map.jsonl');
    await writeFile(map, 'earlier run\n');
    const m = await openOffsetMap(map);
    expect(path.dirname(m.tempPath)).toBe(dir);
    expect(await readFile(m.tempPath, 'utf8')).toBe('');
    await writeFile(m.tempPath, '{"run":1}\n');
    await m.discard();
    expect(await readFile(map, 'utf8')).toBe('earlier run\n');
    const again = await openOffsetMap(map);
    await writeFile(again.tempPath, '{"run":2}\n');
    await again.commit();
    expect(await readFile(map, 'utf8')).toBe('{"run":2}\n');
    expect((await readdir(dir)).filter((f) => f.includes('mqbak-tmp'))).toEqual([]);
  });

  it('the offset map: refused in a missing folder, under a file, as a folder', async () => {
    await expect(openOffsetMap(path.join(dir, 'nope', 'map.jsonl'))).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/folder .*nope does not exist$/) });
    await expect(openOffsetMap(path.join(dir, 'a-file', 'map.jsonl'))).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/a-file is not a folder$/) });
    await expect(openOffsetMap(dir)).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/is a folder$/) });
  });

  it("the journal's folder: made when missing and tried; a user's path is exit 2, the state folder's exit 5", async () => {
    const j = path.join(dir, 'state', 'mqbak', 'restores', 'x.json');
    await checkJournalPlace(j, false);
    expect(await readdir(path.dirname(j))).toEqual([]);
    await expect(checkJournalPlace(path.join(dir, 'a-file', 'j.json'), true)).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/is not a folder, or is under a file$/) });
    await expect(checkJournalPlace(path.join(dir, 'a-file', 'r', 'j.json'), false)).rejects.toMatchObject({ code: 'unreachable', hint: expect.stringMatching(/--journal FILE/) });
    await mkdir(path.join(dir, 'jdir'));
    await expect(checkJournalPlace(path.join(dir, 'jdir'), true)).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/is a folder$/) });
  });
});
