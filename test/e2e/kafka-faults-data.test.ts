/**
 * Kafka backups whose source changes under them, through the binary on a test broker of this
 * file's own: a topic deleted and created again under the same name between two backups,
 * retention deleting records ahead of a running backup, compacted partitions with offset gaps.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/brokers.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { produceBatches, readOffsetMap, urlOf } from '../helpers/kafka-faults.js';
import { readTopic } from '../helpers/kafka-records.js';
import { useTempDirs } from '../helpers/kafka-e2e.js';
import { runMqbak } from '../helpers/run-mqbak.js';

const tempDir = useTempDirs();
let mock: KafkaMock;

beforeAll(async () => {
  mock = await startKafkaMock({ brokers: 1 });
});
afterAll(async () => {
  await mock?.stop();
});

async function backup(dir: string, topic: string): Promise<{ kind: string; parent: string | null; records: number; id: string; warnings?: string[] }> {
  const r = await runMqbak(['backup', urlOf(mock), dir, '--topics', topic, '--json'], { env: { XDG_STATE_HOME: dir } });
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe('a topic deleted and created again under the same name', () => {
  for (const [what, again] of [
    ['with more records than the backup had read of the old one', 15],
    ['with fewer records', 4],
  ] as const) {
    it(`${what}: the next backup starts a new chain, and a restore of it holds exactly the new topic`, async () => {
      const dir = await tempDir();
      const topic = uniqueName('reborn');
      await mock.send(`create ${topic} 2`);
      await produceBatches(mock, topic, 2, 1, 10);
      const first = await backup(dir, topic);
      expect(first.kind).toBe('full');
      // nothing changed: the chain goes on
      await produceBatches(mock, topic, 2, 1, 2);
      const inc = await backup(dir, topic);
      expect(inc.kind).toBe('incremental');
      expect(inc.records).toBe(4);

      await mock.send(`delete ${topic}`);
      await mock.send(`create ${topic} 2`);
      await produceBatches(mock, topic, 2, 1, again);
      const next = await backup(dir, topic);
      expect(next.kind).toBe('full');
      expect(next.parent).toBeNull();
      expect(next.records).toBe(2 * again);

      const target = `${topic}-r`;
      const mapFile = path.join(dir, 'map.jsonl');
      const r = await runMqbak(['restore', dir, urlOf(mock), '--map', `${topic}=${target}`, '--offset-map', mapFile], { env: { XDG_STATE_HOME: dir } });
      expect(r.code, r.stderr).toBe(0);
      expect(await readTopic(mock.brokers, target)).toEqual(await readTopic(mock.brokers, topic));
      expect((await readOffsetMap(mapFile)).map((l) => [l.sourceStart, l.sourceEnd, l.targetStart])).toEqual([
        ['0', String(again - 1), '0'],
        ['0', String(again - 1), '0'],
      ]);
    }, 90_000);
  }
});
