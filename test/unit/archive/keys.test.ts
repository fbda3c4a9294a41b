import { describe, expect, it } from 'vitest';
import {
  backupIdTime,
  idOfManifestKey,
  idOfSegmentKey,
  isBackupId,
  lockKey,
  manifestKey,
  newBackupId,
  segmentKey,
  segmentsPrefix,
} from '../../../src/archive/keys.js';

const ID = '20261125T010203004Z-a1b2c3';

describe('object keys', () => {
  it('builds and reads back manifest and segment keys', () => {
    expect(manifestKey(ID)).toBe(`manifests/${ID}.json`);
    expect(idOfManifestKey(manifestKey(ID))).toBe(ID);
    expect(idOfManifestKey(`manifests/${ID}.jsonx`)).toBeNull();
    expect(idOfManifestKey('manifests/not-an-id.json')).toBeNull();
    expect(segmentKey(ID, 3, 12)).toBe(`segments/${ID}/0003/0000000012.seg`);
    expect(segmentKey(ID, 3, 12).startsWith(segmentsPrefix(ID))).toBe(true);
    expect(idOfSegmentKey(segmentKey(ID, 3, 12))).toBe(ID);
    expect(idOfSegmentKey('segments/x/0000/0000000000.seg')).toBeNull();
    expect(idOfSegmentKey(manifestKey(ID))).toBeNull();
  });

  it('sorts segment keys in stream and sequence order', () => {
    const keys = [segmentKey(ID, 10, 2), segmentKey(ID, 2, 10), segmentKey(ID, 2, 9)];
    expect([...keys].sort()).toEqual([segmentKey(ID, 2, 9), segmentKey(ID, 2, 10), segmentKey(ID, 10, 2)]);
  });

  it('makes backup ids that sort by time and carry it', () => {
    const a = newBackupId(new Date('2026-11-25T01:02:03.004Z'), 'a1b2c3');
    expect(a).toBe(ID);
    expect(isBackupId(a)).toBe(true);
    expect(backupIdTime(a)).toBe('2026-11-25T01:02:03.004Z');
    expect(newBackupId(new Date('2026-11-25T01:02:03.005Z')) > a).toBe(true);
    expect(isBackupId(newBackupId(new Date()))).toBe(true);
    expect(backupIdTime('nope')).toBeNull();
  });

  it('builds lock keys under locks/ and refuses names that would leave it', () => {
    expect(lockKey('prune')).toBe('locks/prune.json');
    expect(() => lockKey('')).toThrow(/lock name/);
    expect(() => lockKey('a/b')).toThrow(/lock name/);
  });
});
