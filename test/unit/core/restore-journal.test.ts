import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalPathFor, readJournal, writeJournal, type RestoreJournal } from '../../../src/core/restore-journal.js';

const identity = { store: '/b', backupId: '20261125T000000000Z-aaaaaa', target: 'kafka://h:1', streams: ['x', 'y'], renames: { x: 'x2' }, until: null };

describe('restore journal', () => {
  it('lives in the state folder under a name that only the same restore shares', () => {
    const p = journalPathFor({ XDG_STATE_HOME: '/state' }, identity);
    expect(p).toMatch(/^\/state\/mqbak\/restores\/[0-9a-f]{24}\.json$/);
    expect(journalPathFor({ HOME: '/home/u' }, identity)).toMatch(/^\/home\/u\/\.local\/state\/mqbak\/restores\//);
    // the order of --streams does not matter; anything else does
    expect(journalPathFor({ XDG_STATE_HOME: '/state' }, { ...identity, streams: ['y', 'x'] })).toBe(p);
    for (const other of [{ target: 'kafka://h:2' }, { backupId: 'b2' }, { renames: {} }, { until: 5 }, { store: '/c' }, { streams: ['x'] }]) {
      expect(journalPathFor({ XDG_STATE_HOME: '/state' }, { ...identity, ...other })).not.toBe(p);
    }
  });

  it('is written whole and read back; a missing one is null, a damaged one a usage error', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-journal-'));
    try {
      const path = join(dir, 'deep', 'j.json');
      expect(await readJournal(path)).toBeNull();
      const j: RestoreJournal = { version: 2, backupId: 'b', target: 't', streams: { 'kafka/x/0': { initialEnd: '5' } }, completed: false };
      await writeJournal(path, j);
      expect(await readJournal(path)).toEqual(j);
      await writeJournal(path, { ...j, completed: true });
      expect((await readJournal(path))!.completed).toBe(true);
      expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ version: 2 });
      await writeFile(path, '{"version": 1, "initialEnds": {}}');
      await expect(readJournal(path)).rejects.toThrow(/not readable/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
