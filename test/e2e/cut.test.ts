/**
 * mqbak cut through the binary (issue 17, "the old-data cut"), on a plain and on an encrypted
 * local store: a Kafka chain of a full and two incrementals whose records are 100, 50 and 0 days
 * old; a cut before 60 days is a new full backup (format 4) that restores exactly the newer
 * records; --dry-run changes nothing; forget then prune free the old full's segments and keep
 * the shared ones; verify passes throughout; the next backup continues the cut's chain.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { kafka, readAll, url, useTempDirs } from '../helpers/kafka-e2e.js';
import { runMqbak, type RunResult } from '../helpers/run-mqbak.js';

const tempDir = useTempDirs();
const DAY = 86_400_000;

function ok(r: RunResult): RunResult {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.code, r.stderr).toBe(0);
  return r;
}

async function produce(topic: string, from: number, n: number, ageDays: number): Promise<void> {
  const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  try {
    const timestamp = String(Date.now() - ageDays * DAY);
    await p.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ partition: 0, key: `k${from + i}`, value: `value ${from + i}`, timestamp })) });
  } finally {
    await p.disconnect();
  }
}

const values = async (topic: string): Promise<string[]> => (await readAll(topic)).map((r) => `${r.key}=${r.value}`);

async function objects(dir: string): Promise<string[]> {
  const { readdir } = await import('node:fs/promises');
  return (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.seg') || f.endsWith('.json') || f.endsWith('.mqbak')).sort();
}

describe.each([
  ['a plain store', false],
  ['an encrypted store', true],
])('mqbak cut on %s', (_name, encrypted) => {
  it('a cut before 60 days restores exactly the newer records; forget and prune then free the old ones; the chain goes on from the cut', async () => {
    const work = await tempDir();
    const store = path.join(work, 'store');
    let env: NodeJS.ProcessEnv = {};
    if (encrypted) {
      const pw = path.join(work, 'pw');
      await writeFile(pw, 'cut test password\n');
      env = { MQBAK_PASSWORD_FILE: pw };
      ok(await runMqbak(['key', 'init', store, '--new-password-file', pw, '--scrypt-n', '1024'], { env }));
    }
    const run = (args: string[]) => runMqbak(args, { env });
    const topic = uniqueName('cut');
    await kafkaCreateTopic(topic, 1);
    await produce(topic, 0, 300, 100);
    ok(await run(['backup', url(), store, '--topics', topic, '--segment-size', '4k']));
    await produce(topic, 300, 200, 50);
    ok(await run(['backup', url(), store, '--topics', topic, '--segment-size', '4k']));
    await produce(topic, 500, 100, 0);
    ok(await run(['backup', url(), store, '--topics', topic, '--segment-size', '4k']));
    const chain = JSON.parse(ok(await run(['list', store, '--json'])).stdout) as Array<{ id: string }>;
    expect(chain).toHaveLength(3);
    const head = chain[2]!.id;

    // --dry-run: the plan, and not one object changed
    const before = await objects(store);
    const dry = JSON.parse(ok(await run(['cut', store, '--before', '60d', '--dry-run', '--json'])).stdout) as {
      dryRun: boolean;
      cuts: Array<{ of: string; id: string | null; streams: Array<{ droppedRecords: number; keptRecords: number }> }>;
    };
    expect(dry.dryRun).toBe(true);
    expect(dry.cuts).toHaveLength(1);
    expect(dry.cuts[0]).toMatchObject({ of: head, id: null, streams: [{ droppedRecords: 300, keptRecords: 300 }] });
    expect(await objects(store)).toEqual(before);

    const done = ok(await run(['cut', store, '--before', '60d']));
    const cutId = /^(\S+): a cut of (\S+), leaving out 300 record\(s\)/m.exec(done.stdout);
    expect(cutId, done.stdout).not.toBeNull();
    expect(cutId![2]).toBe(head);
    const id = cutId![1]!;
    const shown = ok(await run(['show', store, id]));
    expect(shown.stdout).toMatch(new RegExp(`^kind +full \\(a cut of ${head}: records before \\S+ left out\\)`, 'm'));
    expect(shown.stdout).toMatch(/format v4/);
    ok(await run(['verify', store]));
    // a second cut at the same time finds nothing more to leave out
    expect(ok(await run(['cut', store, '--before', '60d'])).stdout).toMatch(/nothing older than .* to leave out \(no cut made\)/);

    const newer = (await values(topic)).slice(300);
    const restoreInto = async (backup: string) => {
      const target = uniqueName('cut-restored');
      ok(await run(['restore', store, url(), '--backup', backup, '--map', `${topic}=${target}`]));
      return values(target);
    };
    expect(await restoreInto(id)).toEqual(newer);

    // the old chain forgotten, then pruned: the full's segments go, the shared ones stay
    ok(await run(['forget', store, '--keep-last', '1']));
    const pruned = ok(await run(['prune', store, '--grace', '1s']));
    expect(pruned.stdout).toMatch(/^deleted [1-9]\d* segments?, freed/m);
    expect((await objects(store)).filter((f) => f.includes(chain[0]!.id) && f.endsWith('.seg'))).toEqual([]);
    ok(await run(['verify', store]));
    expect(await restoreInto(id)).toEqual(newer);

    // the next backup is an incremental of the cut
    await produce(topic, 600, 40, 0);
    ok(await run(['backup', url(), store, '--topics', topic, '--segment-size', '4k']));
    const after = JSON.parse(ok(await run(['list', store, '--json'])).stdout) as Array<{ id: string; kind: string; parent?: string | null }>;
    expect(after.map((b) => b.kind)).toEqual(['full', 'incremental']);
    expect(after[0]!.id).toBe(id);
    ok(await run(['verify', store, after[1]!.id]));
    expect(await restoreInto(after[1]!.id)).toEqual((await values(topic)).slice(300));
  }, 180_000);
});

describe('mqbak cut refuses bad input before touching the store', () => {
  it('no --before, or a --before that is not a time: exit 2 with one error line', async () => {
    const store = await tempDir();
    for (const args of [[], ['--before', 'last tuesday']]) {
      const r = await runMqbak(['cut', store, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr.match(/^mqbak: error: /gm)).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
