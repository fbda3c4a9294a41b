import { describe, expect, it } from 'vitest';
import { budgetShare, MIN_STREAM_SHARE } from '../../../src/core/backup-stream.js';

describe('budgetShare', () => {
  it('splits the memory budget equally over the open streams', () => {
    expect(budgetShare(64 * 1024 * 1024, 4)).toBe(16 * 1024 * 1024);
    expect(budgetShare(64 * 1024 * 1024, 2000)).toBe(Math.floor((64 * 1024 * 1024) / 2000));
  });

  it('never goes below MIN_STREAM_SHARE, and counts no stream as one', () => {
    expect(budgetShare(64 * 1024 * 1024, 1_000_000)).toBe(MIN_STREAM_SHARE);
    expect(budgetShare(1000, 0)).toBe(MIN_STREAM_SHARE);
    expect(budgetShare(1024 * 1024, 0)).toBe(1024 * 1024);
  });
});
