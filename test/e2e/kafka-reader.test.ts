/**
 * Kafka backup through the mqbak binary: the cut taken while producers keep writing, and mqbak's
 * own Fetch reader against what kafkajs and librdkafka read (gzip, zstd, lz4, snappy batches,
 * header names that are not UTF-8, transactions).
 */
import { spawnSync } from 'node:child_process';
import type { Message } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { kafkaBrokers, kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { kafka, produceVaried, readAll, restoreMatchesSource, url, useTempDirs } from '../helpers/kafka-e2e.js';
import { runMqbak } from '../helpers/run-mqbak.js';
import { requireTool } from '../helpers/tools.js';

const tempDir = useTempDirs();

describe('kafka backup while producers keep writing', () => {
  it('stops at the end noted at start and finishes', async () => {
    const dir = await tempDir();
    const topic = uniqueName('live');
    await kafkaCreateTopic(topic, 2);
    await produceVaried(topic, 2, 200);
    const p = kafka().producer();
    await p.connect();
    let stop = false;
    let extra = 0;
    const writing = (async () => {
      while (!stop) {
        await p.send({ topic, messages: [{ partition: extra % 2, value: `late${extra}` }] });
        extra++;
      }
    })();
    await new Promise((r) => setTimeout(r, 300));
    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json'], { timeoutMs: 60_000 });
    stop = true;
    await writing;
    await p.disconnect();
    expect(b.stderr).not.toMatch(/\n\s+at /);
    expect(b.code).toBe(0);
    const j = JSON.parse(b.stdout);
    expect(extra).toBeGreaterThan(0);
    // a cut: at least what existed before, never records past each partition's noted end
    expect(j.records).toBeGreaterThanOrEqual(200);
    for (const s of j.streams) expect(s.records).toBe(Number(s.to) - Number(s.from));
    expect(j.records).toBeLessThan(200 + extra);
  });
});

describe("kafka backup's own Fetch reader", () => {
  /**
   * `batches` sends of `size` records each, idempotent with acks -1: record j of the send that
   * starts at record s is make(s, j); compression(b) picks the codec of send b (none by default).
   */
  const produceBatches = async (topic: string, batches: number, size: number, make: (s: number, j: number) => Message, compression?: (b: number) => number): Promise<void> => {
    const p = kafka().producer({ idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    for (let b = 0; b < batches; b++) {
      const s = b * size;
      await p.send({ topic, acks: -1, compression: compression?.(b), messages: Array.from({ length: size }, (_, j) => make(s, j)) });
    }
    await p.disconnect();
  };
  const catLines = async (dir: string, id: string, stream: string): Promise<string[]> => {
    const c = await runMqbak(['cat', dir, id, '--stream', stream]);
    expect(c.code, c.stderr).toBe(0);
    return c.stdout.trim().split('\n');
  };

  it('gzip batches back up and restore byte for byte; the same archive records as through kafkajs consumer; no consumer group made', async () => {
    const topic = uniqueName('gz');
    await kafkaCreateTopic(topic, 2);
    const { default: kafkajs } = await import('kafkajs');
    await produceBatches(topic, 3, 200, (s, i) => ({ partition: (s + i) % 2, key: i % 9 === 0 ? null : `k${s + i}`, value: i % 11 === 0 ? null : `gzip ${s + i} `.repeat(20), headers: { a: `${i}`, b: ['x', 'y'] } }), (b) =>
      b === 1 ? kafkajs.CompressionTypes.None : kafkajs.CompressionTypes.GZIP,
    );
    const admin = kafka().admin();
    await admin.connect();
    const groupsBefore = (await admin.listGroups()).groups.map((g) => g.groupId);
    const dir = await tempDir();
    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).not.toMatch(/kafkajs' consumer|warning/);
    expect(JSON.parse(b.stdout).records).toBe(600);
    // nothing joined or left behind on the source
    expect((await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => !groupsBefore.includes(g) && g.startsWith('mqbak-'))).toEqual([]);
    await admin.disconnect();

    const viaKafkajs = await tempDir();
    const k = await runMqbak(['backup', url(), viaKafkajs, '--topics', topic, '--json'], { env: { MQBAK_KAFKA_CONSUMER: 'kafkajs' } });
    expect(k.code, k.stderr).toBe(0);
    for (const part of [0, 1]) {
      const ours = await catLines(dir, JSON.parse(b.stdout).id, `kafka/${topic}/${part}`);
      const theirs = await catLines(viaKafkajs, JSON.parse(k.stdout).id, `kafka/${topic}/${part}`);
      expect(ours).toHaveLength(300);
      // kafkajs tells no timestamp type; mqbak's reader keeps it
      expect(ours.map((l) => JSON.parse(l).timestampType)).toEqual(Array(300).fill('create'));
      const norm = (l: string) => ({ ...JSON.parse(l), timestampType: null, backup: null });
      expect(ours.map(norm)).toEqual(theirs.map(norm));
    }

    const target = `${topic}-r`;
    const r = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`], { env: { XDG_STATE_HOME: dir } });
    expect(r.code, r.stderr).toBe(0);
    expect(await readAll(target)).toEqual(await readAll(topic));
  });

  it('a topic of more partitions per broker than the Fetch window (64): every record of every partition, exact offsets in the manifest', async () => {
    const topic = uniqueName('wide');
    const partitions = 300;
    await kafkaCreateTopic(topic, partitions);
    // partition p holds p % 5 records (none in every fifth)
    const count = (p: number) => p % 5;
    const p = kafka().producer();
    await p.connect();
    await p.send({ topic, acks: -1, messages: Array.from({ length: partitions }, (_, q) => Array.from({ length: count(q) }, (_, j) => ({ partition: q, value: `${q}:${j}` }))).flat() });
    await p.disconnect();
    const dir = await tempDir();
    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json'], { timeoutMs: 120_000 });
    expect(b.code, b.stderr).toBe(0);
    const j = JSON.parse(b.stdout);
    const total = Array.from({ length: partitions }, (_, q) => count(q)).reduce((x, y) => x + y, 0);
    expect(j.records).toBe(total);
    const streams = new Map<string, { records: number; from: string; to: string }>(j.streams.map((s: { name: string; records: number; from: string; to: string }) => [s.name, s]));
    for (let q = 0; q < partitions; q++) expect(streams.get(`kafka/${topic}/${q}`), `partition ${q}`).toMatchObject({ records: count(q), from: '0', to: String(count(q)) });
    const c = await runMqbak(['cat', dir, j.id]);
    expect(c.code, c.stderr).toBe(0);
    const got = new Map<string, string[]>();
    for (const line of c.stdout.trim().split('\n')) {
      const r = JSON.parse(line);
      got.set(r.stream, [...(got.get(r.stream) ?? []), `${r.position}=${r.value}`]);
    }
    for (let q = 0; q < partitions; q++) expect(got.get(`kafka/${topic}/${q}`) ?? [], `partition ${q}`).toEqual(Array.from({ length: count(q) }, (_, k) => `${k}=${q}:${k}`));
  });

  it('answers of megabytes (read into reused buffers, answer-buffers.ts): the same records as through kafkajs consumer', async () => {
    const topic = uniqueName('big');
    await kafkaCreateTopic(topic, 2);
    // 2 x 6,000 records of 1-2 KB, each distinct: several answers of up to 2 MiB per partition, so
    // buffers are handed back and read into again; a stale byte would show in some record
    await produceBatches(topic, 6, 2_000, (s, j) => {
      const i = s + j;
      return { partition: i % 2, key: `k${i}`, value: `${i}:`.repeat(300 + (i % 250)), headers: { n: `${i}` } };
    });
    const dir = await tempDir();
    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json'], { timeoutMs: 120_000 });
    expect(b.code, b.stderr).toBe(0);
    expect(JSON.parse(b.stdout).records).toBe(12_000);
    const viaKafkajs = await tempDir();
    const k = await runMqbak(['backup', url(), viaKafkajs, '--topics', topic, '--json'], { env: { MQBAK_KAFKA_CONSUMER: 'kafkajs' }, timeoutMs: 120_000 });
    expect(k.code, k.stderr).toBe(0);
    for (const part of [0, 1]) {
      const ours = await catLines(dir, JSON.parse(b.stdout).id, `kafka/${topic}/${part}`);
      const theirs = await catLines(viaKafkajs, JSON.parse(k.stdout).id, `kafka/${topic}/${part}`);
      expect(ours).toHaveLength(6_000);
      const norm = (l: string) => ({ ...JSON.parse(l), timestampType: null, backup: null });
      expect(ours.map(norm)).toEqual(theirs.map(norm));
      expect(ours.map((l) => JSON.parse(l).key)).toEqual(Array.from({ length: 6_000 }, (_, j) => `k${2 * j + part}`));
    }
  });

  it('zstd batches (made by kcat) back up, with the native binding and with zstd-codec, and restore byte for byte', async () => {
    requireTool('kcat');
    const topic = uniqueName('zstd');
    await kafkaCreateTopic(topic, 2);
    for (const p of [0, 1]) {
      const input = Array.from({ length: 400 }, (_, i) => `k${p}-${i}\t${'zstd value '.repeat(20)}${p}-${i}`).join('\n');
      const kc = spawnSync('kcat', ['-P', '-b', kafkaBrokers().join(','), '-t', topic, '-p', String(p), '-K', '\t', '-z', 'zstd'], { input, encoding: 'utf8' });
      expect(kc.status, kc.stderr).toBe(0);
    }
    const ids: string[] = [];
    const dirs: string[] = [];
    for (const zstd of ['auto', 'wasm']) {
      const dir = await tempDir();
      const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json'], { env: { MQBAK_ZSTD: zstd } });
      expect(b.code, b.stderr).toBe(0);
      expect(JSON.parse(b.stdout).records).toBe(800);
      ids.push(JSON.parse(b.stdout).id);
      dirs.push(dir);
    }
    const lines = await catLines(dirs[0]!, ids[0]!, `kafka/${topic}/1`);
    expect(lines.map((l) => JSON.parse(l).key)).toEqual(Array.from({ length: 400 }, (_, i) => `k1-${i}`));
    expect(await catLines(dirs[1]!, ids[1]!, `kafka/${topic}/1`)).toEqual(lines.map((l) => l.replace(ids[0]!, ids[1]!)));
    await restoreMatchesSource(dirs[0]!, topic, 800);
  }, 60_000);

  it('lz4 and snappy batches (made by kcat) back up and restore to what librdkafka reads from the source', async () => {
    requireTool('kcat');
    for (const codec of ['lz4', 'snappy']) {
      const topic = uniqueName(codec);
      await kafkaCreateTopic(topic, 1);
      // librdkafka compresses only when it pays: compressible values, in several batches
      for (let s = 0; s < 3; s++) {
        const input = Array.from({ length: 300 }, (_, i) => `k${s}-${i}\t${`${codec} value `.repeat(5 + (i % 40))}${s}-${i}`).join('\n');
        const kc = spawnSync('kcat', ['-P', '-b', kafkaBrokers().join(','), '-t', topic, '-p', '0', '-K', '\t', '-z', codec], { input, encoding: 'utf8' });
        expect(kc.status, kc.stderr).toBe(0);
      }
      const dir = await tempDir();
      const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json']);
      expect(b.stderr).not.toMatch(/\n\s+at /);
      expect(b.code, b.stderr).toBe(0);
      expect(b.stderr).not.toMatch(/warning/);
      expect(JSON.parse(b.stdout).records).toBe(900);
      await restoreMatchesSource(dir, topic, 900);
    }
  }, 60_000);

  it("a header name that is not UTF-8: kafkajs' consumer takes the partition over from that record, with a warning; nothing is lost", async () => {
    requireTool('kcat');
    const topic = uniqueName('badhdr');
    await kafkaCreateTopic(topic, 1);
    const brokers = kafkaBrokers().join(',');
    // the header through bash's printf: argv bytes go into the name as they are (Node would
    // encode a string argument as UTF-8), and 0xff is never UTF-8
    const produce = (lines: string, header: string) => {
      const r = spawnSync('bash', ['-c', `kcat -P -b "$0" -t "$1" -p 0 -K '\t' -H "$(printf '${header}')"`, brokers, topic], { input: lines });
      expect(r.status, String(r.stderr)).toBe(0);
    };
    produce('a\t1\nb\t2\n', 'ok=1');
    produce('c\t3\n', 'b\\xff=v');
    produce('d\t4\n', 'ok=2');
    const dir = await tempDir();
    const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--json']);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stderr).toMatch(new RegExp(`warning: ${topic}\\[0\\] from offset 2: a header name that is not UTF-8: read through kafkajs' consumer instead`));
    const j = JSON.parse(b.stdout);
    expect(j.records).toBe(4);
    expect(j.warnings.join('\n')).toMatch(/not UTF-8/);
    const got = (await catLines(dir, j.id, `kafka/${topic}/0`)).map((l) => JSON.parse(l));
    expect(got.map((r) => [r.position, r.key, r.value])).toEqual([['0', 'a', '1'], ['1', 'b', '2'], ['2', 'c', '3'], ['3', 'd', '4']]);
    expect(got.map((r) => r.timestampType)).toEqual(['create', 'create', null, null]);
  }, 60_000);

  it('read_committed leaves out aborted transactions; read_uncommitted keeps them', async () => {
    const topic = uniqueName('txn');
    await kafkaCreateTopic(topic, 1);
    const p = kafka().producer({ transactionalId: uniqueName('txid'), idempotent: true, maxInFlightRequests: 1 });
    await p.connect();
    const send = async (values: string[], commit: boolean) => {
      const t = await p.transaction();
      await t.send({ topic, acks: -1, messages: values.map((value) => ({ partition: 0, value })) });
      if (commit) await t.commit();
      else await t.abort();
    };
    await send(['c1', 'c2'], true);
    await send(['a1', 'a2', 'a3'], false);
    await send(['c3'], true);
    await p.disconnect();
    const values = async (isolation: string) => {
      const dir = await tempDir();
      const b = await runMqbak(['backup', url(), dir, '--topics', topic, '--isolation', isolation, '--json']);
      expect(b.code, b.stderr).toBe(0);
      return (await catLines(dir, JSON.parse(b.stdout).id, `kafka/${topic}/0`)).map((line) => JSON.parse(line).value as string);
    };
    expect(await values('read_committed')).toEqual(['c1', 'c2', 'c3']);
    expect(await values('read_uncommitted')).toEqual(['c1', 'c2', 'a1', 'a2', 'a3', 'c3']);
  }, 60_000);
});
