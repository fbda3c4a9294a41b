/**
 * mqbak's own Fetch reader and producer use kafkajs 2.2's internals (src/brokers/kafka/internals.ts).
 * Where one is missing, backup falls back to kafkajs' consumer and restore to kafkajs' producer,
 * and the result is the same. MQBAK_KAFKA_HIDE_INTERNALS (read only by internals.ts, for tests)
 * makes mqbak behave as if the named internals were missing.
 */
import { describe, expect, it } from 'vitest';
import { kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { produceVaried, readAll, url, useTempDirs } from '../helpers/kafka-e2e.js';
import { runMqbak } from '../helpers/run-mqbak.js';

const tempDir = useTempDirs();

describe("kafka without kafkajs' internals", () => {
  // what each hides, and whether mqbak's producer still runs without it (it needs no error table)
  const cases: Array<[string, boolean]> = [
    ['requests', false],
    ['apiKeys', false],
    ['error', true],
    ['createCluster', false],
    ['sendRequest', false],
    ['all', false],
  ];
  for (const [hide, producerStays] of cases) {
    it(`hidden ${hide}: backup reads through kafkajs' consumer, restore writes through ${producerStays ? "mqbak's" : "kafkajs'"} producer, the same records`, async () => {
      const dir = await tempDir();
      const env = { XDG_STATE_HOME: dir, MQBAK_KAFKA_HIDE_INTERNALS: hide };
      const topic = uniqueName(`hide-${hide}`);
      await kafkaCreateTopic(topic, 2);
      await produceVaried(topic, 2, 30);
      const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json'], { env });
      expect(b.stderr).not.toMatch(/\n\s+at /);
      expect(b.code, b.stderr).toBe(0);
      expect(JSON.parse(b.stdout).records).toBe(30);
      expect(b.stderr).toMatch(/mqbak's own Fetch reader is unavailable .*: reading through kafkajs' consumer/);
      const target = `${topic}-r`;
      const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--json'], { env });
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code, r.stderr).toBe(0);
      if (producerStays) expect(r.stderr).not.toMatch(/producer is unavailable/);
      else expect(r.stderr).toMatch(/mqbak's own producer is unavailable .*: writing through kafkajs' producer/);
      expect(await readAll(target)).toEqual(await readAll(topic));
    }, 90_000);
  }
});
