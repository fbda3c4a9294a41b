/**
 * A restore SIGKILLed while the target's high watermark lags its log (a replicated cluster whose
 * followers are behind: the test broker's leader_hwm), then run again: the batches the killed
 * run had stored but the rerun could not count are recognised by the broker (same producer id
 * and sequences) instead of being stored twice. docs/KAFKA.md, Resume.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../helpers/brokers.js';
import { startKafkaMock, type KafkaMock } from '../helpers/kafka-mock.js';
import { produceBatches, sleep, startMqbak, until, urlOf, watermarks } from '../helpers/kafka-faults.js';
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

describe('kafka restore resumed under a lagging high watermark', () => {
  it('SIGKILL while batches are stored past the high watermark, rerun: exact, nothing twice', async () => {
    const dir = await tempDir();
    const env = { XDG_STATE_HOME: dir };
    const topic = uniqueName('lag');
    await mock.send(`create ${topic} 1`);
    // 60,000 records of about 250 bytes: about 15 produce requests of 1 MB
    await produceBatches(mock, topic, 1, 30, 2000, 200);
    const b = await runMqbak(['backup', urlOf(mock), dir, '--topics', topic], { env });
    expect(b.code, b.stderr).toBe(0);

    const target = `${topic}-r`;
    await mock.send(`create ${target} 1`);
    await mock.send('rtt -1 250');
    let held = 0n;
    try {
      const first = startMqbak(['restore', dir, urlOf(mock), '--map', `${topic}=${target}`], env);
      // two batches in: the high watermark stops there, the log grows on
      expect(await until(() => !first.running() || /restoring \d+ /.test(first.stderr()), 30_000)).toBe(true);
      for (let i = 0; i < 200 && first.running(); i++) {
        held = (await watermarks(mock, target))[0]!.high;
        if (held >= 5_000n) break;
        await sleep(50);
      }
      expect(first.running(), first.stderr()).toBe(true);
      await mock.send(`leader_hwm ${target} 0 1 ${held}`);
      await sleep(1_200); // a few more batches stored past it
      first.kill('SIGKILL');
      await first.done;
      // the rerun counts from the held high watermark: fewer records than the log holds
      expect((await watermarks(mock, target))[0]!.high).toBe(held);
      const rerun = startMqbak(['restore', dir, urlOf(mock), '--map', `${topic}=${target}`, '--json'], env);
      expect(await until(() => !rerun.running() || /restoring \d+ /.test(rerun.stderr()), 30_000)).toBe(true);
      await mock.send(`leader_hwm ${target} 0 1 -1`);
      const r = await rerun.done;
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.resumed).toBe(true);
      expect(j.alreadyRestored).toBe(Number(held));
    } finally {
      await mock.send('rtt -1 0');
      await mock.command(`leader_hwm ${target} 0 1 -1`);
    }
    expect((await watermarks(mock, target))[0]!.high).toBe(60_000n);
    expect(await readTopic(mock.brokers, target)).toEqual(await readTopic(mock.brokers, topic));
  }, 180_000);
});
