import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../src/common/errors.js';
import { jsonProgress, progressMode } from '../../../src/cli/progress-json.js';

describe('--progress json', () => {
  it('writes one JSON object a line, counts throttled, the latest counts flushed at a phase and at the end', () => {
    let t = Date.parse('2026-12-04T00:00:00Z');
    const out: string[] = [];
    const p = jsonProgress({ stream: { write: (s: string) => out.push(s) }, intervalMs: 1000, now: () => t });
    p.phase('backing up 1 stream(s)');
    p.update({ stream: 's', records: 1, bytes: 10 });
    t += 10;
    p.update({ stream: 's', records: 2, bytes: 20 }); // within the interval: held back
    t += 10;
    p.phase('next');
    p.update({ stream: 's', records: 3, total: 3 });
    p.update({ stream: 's', records: 3, total: 3 });
    p.warn('careful');
    p.stop();
    const lines = out.map((l) => {
      expect(l.endsWith('\n')).toBe(true);
      return JSON.parse(l) as Record<string, unknown>;
    });
    expect(lines.map(({ time: _, ...rest }) => rest)).toEqual([
      { type: 'phase', message: 'backing up 1 stream(s)' },
      { type: 'progress', stream: 's', records: 1, bytes: 10 },
      { type: 'progress', stream: 's', records: 2, bytes: 20 },
      { type: 'phase', message: 'next' },
      { type: 'warning', message: 'careful' },
      { type: 'progress', stream: 's', records: 3, total: 3 },
    ]);
    expect(lines[0]!.time).toBe('2026-12-04T00:00:00.000Z');
  });

  it('takes the mode from the option, else MQBAK_PROGRESS, else auto', () => {
    expect(progressMode(undefined, {})).toBe('auto');
    expect(progressMode(undefined, { MQBAK_PROGRESS: 'json' })).toBe('json');
    expect(progressMode('plain', { MQBAK_PROGRESS: 'json' })).toBe('plain');
    expect(() => progressMode(undefined, { MQBAK_PROGRESS: 'fancy' })).toThrow(MqbakError);
  });
});
