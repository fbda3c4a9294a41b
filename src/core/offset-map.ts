/**
 * The offset map a restore writes with --offset-map: one format for every broker
 * (docs/OFFSET-MAP.md). JSON lines, one per run of consecutive source positions restored to
 * consecutive target positions:
 *   {"stream": "kafka/orders/0", "source": {...}, "target": {...},
 *    "sourceStart": "5", "sourceEnd": "7", "targetStart": "100"}
 * Addresses are the adapter's, positions decimal strings (they may pass 2^53), ends inclusive.
 */
import { writeFile } from 'node:fs/promises';
import type { OffsetRun } from '../brokers/adapter.js';
import { MqbakError, messageOf } from '../common/errors.js';

export function offsetRunToJson(r: OffsetRun): string {
  return JSON.stringify({
    stream: r.stream,
    source: r.source,
    target: r.target,
    sourceStart: r.sourceStart.toString(),
    sourceEnd: r.sourceEnd.toString(),
    targetStart: r.targetStart.toString(),
  });
}

/** Parses one line of an offset map (for tools and tests). */
export function offsetRunFromJson(line: string): OffsetRun {
  const o = JSON.parse(line) as Record<string, unknown>;
  const big = (k: string): bigint => {
    const v = o[k];
    if (typeof v !== 'string' || !/^-?\d+$/.test(v)) throw new MqbakError('integrity', `offset map line: ${k} is not a decimal string`);
    return BigInt(v);
  };
  if (typeof o.stream !== 'string' || typeof o.source !== 'object' || typeof o.target !== 'object' || o.source === null || o.target === null) {
    throw new MqbakError('integrity', 'offset map line: stream, source and target expected');
  }
  return { stream: o.stream, source: o.source as OffsetRun['source'], target: o.target as OffsetRun['target'], sourceStart: big('sourceStart'), sourceEnd: big('sourceEnd'), targetStart: big('targetStart') };
}

export async function writeOffsetMap(path: string, runs: readonly OffsetRun[]): Promise<void> {
  try {
    await writeFile(path, runs.map((r) => `${offsetRunToJson(r)}\n`).join(''));
  } catch (e) {
    throw new MqbakError('usage', `--offset-map ${path}: ${messageOf(e)}`);
  }
}
