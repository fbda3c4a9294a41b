import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { OffsetRun } from '../../../src/brokers/adapter.js';
import { offsetRunFromJson, offsetRunToJson, writeOffsetMap } from '../../../src/core/offset-map.js';

const run: OffsetRun = {
  stream: 'kafka/a/1',
  source: { topic: 'a', partition: 1 },
  target: { topic: 'b', partition: 1 },
  sourceStart: 2n ** 60n,
  sourceEnd: 2n ** 60n + 7n,
  targetStart: 100n,
};

describe('offset map (docs/OFFSET-MAP.md)', () => {
  it('writes one JSON line per run: stream, addresses, positions as decimal strings', () => {
    expect(JSON.parse(offsetRunToJson(run))).toEqual({
      stream: 'kafka/a/1',
      source: { topic: 'a', partition: 1 },
      target: { topic: 'b', partition: 1 },
      sourceStart: '1152921504606846976',
      sourceEnd: '1152921504606846983',
      targetStart: '100',
    });
  });

  it('reads back exactly what it wrote, positions past 2^53 included', () => {
    expect(offsetRunFromJson(offsetRunToJson(run))).toEqual(run);
    expect(() => offsetRunFromJson('{"stream":"s","source":{},"target":{},"sourceStart":5,"sourceEnd":"5","targetStart":"0"}')).toThrow(/sourceStart is not a decimal string/);
  });

  it('writes the file as JSON lines, one per run, in the order given', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mqbak-map-'));
    try {
      const second = { ...run, stream: 'kafka/a/2', sourceStart: 0n, sourceEnd: 0n, targetStart: 0n };
      await writeOffsetMap(join(dir, 'm.jsonl'), [run, second]);
      const lines = (await readFile(join(dir, 'm.jsonl'), 'utf8')).split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[2]).toBe('');
      expect(lines.slice(0, 2).map(offsetRunFromJson)).toEqual([run, second]);
      await expect(writeOffsetMap(join(dir, 'missing', 'm.jsonl'), [run])).rejects.toThrow(/--offset-map/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
