// The scale scenario of `npm run bench -- --only scale`: Kafka backups of many partitions and of
// many topics, each at 1/10 of its size and at its size, with small records (100-byte values),
// to check that mqbak's time grows linearly with them and its memory stays under the bench's
// limit. 1x: one topic of 2,000 partitions, and 50 topics of 4 partitions, each holding the scale's
// record count (1,000,000 at full scale) in all; 1/10: 200 partitions, 5 topics, a tenth of the
// records (as many per partition or per topic as at 1x). The topics are seeded by kcat -P (the
// key partitioner of librdkafka spreads them evenly), one fresh mockd per shape.
import { createWriteStream, rmSync } from 'node:fs';
import { join } from 'node:path';
import { MockKafka } from './kafka.js';
import { measure } from './proc.js';
import { sampleRounds } from './reps.js';
import { checkTarget, fmtInt, type TargetCheck } from './stats.js';
import { env, find, finish, log, mqbak, record, sample, type ScenarioArgs } from './harness.js';

const VALUE_BYTES = 100;
const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'sensor', 'reading', 'ok', 'warn', 'north', 'south'];

/** Record i: key `dev-<i mod 10,000>`, a JSON value of exactly VALUE_BYTES bytes (no tab, no newline). */
export function smallRecord(i: number): { key: string; value: string } {
  const head = `{"seq":${i},"device":"dev-${i % 10_000}","temp":${(i * 7) % 400 / 10},"note":"`;
  let note = '';
  for (let k = i; note.length < VALUE_BYTES - head.length - 2; k = (k * 31 + 7) % 1_000_003) note += `${WORDS[k % WORDS.length]} `;
  return { key: `dev-${i % 10_000}`, value: `${head}${note.slice(0, VALUE_BYTES - head.length - 2)}"}` };
}

/** Writes records 0..n-1 as kcat -P -K '\t' input; returns their raw bytes (keys + values). */
async function writeKcatFile(path: string, n: number): Promise<number> {
  const out = createWriteStream(path);
  let raw = 0;
  for (let i = 0; i < n; i++) {
    const r = smallRecord(i);
    raw += r.key.length + r.value.length;
    if (!out.write(`${r.key}\t${r.value}\n`)) await new Promise<void>((res) => out.once('drain', () => res()));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return raw;
}

interface Shape {
  kind: 'partitions' | 'topics';
  topics: number;
  partitions: number;
  records: number;
}

const nameOf = (s: Shape) =>
  s.kind === 'partitions' ? `kafka scale: mqbak backup, 1 topic x ${fmtInt(s.partitions)} partitions` : `kafka scale: mqbak backup, ${s.topics} topics x ${s.partitions} partitions`;
const baselineNameOf = (s: Shape) => `kafka scale: kcat -C read only, ${fmtInt(s.partitions)} partitions`;

/** The four shapes at scale `n` (records at 1x): 1/10 first. */
export function scaleShapes(n: number): Shape[] {
  const small = Math.max(100, Math.round(n / 10));
  return [
    { kind: 'partitions', topics: 1, partitions: 200, records: small },
    { kind: 'partitions', topics: 1, partitions: 2000, records: small * 10 },
    { kind: 'topics', topics: 5, partitions: 4, records: small },
    { kind: 'topics', topics: 50, partitions: 4, records: small * 10 },
  ];
}

export async function kafkaScaleScenarios(a: ScenarioArgs, work: string, mockd: string, n: number): Promise<void> {
  for (const shape of scaleShapes(n)) {
    const perTopic = Math.round(shape.records / shape.topics);
    const file = join(work, `scale-${perTopic}.txt`);
    const raw = (await writeKcatFile(file, perTopic)) * shape.topics;
    const k = await MockKafka.start(mockd);
    try {
      const topics = Array.from({ length: shape.topics }, (_, t) => `scale-${t}`);
      log(`scale: seeding ${fmtInt(perTopic * shape.topics)} records of ${VALUE_BYTES} B into ${shape.topics} topic(s) of ${shape.partitions} partitions`);
      for (const t of topics) {
        await k.createTopic(t, shape.partitions);
        const seed = await measure(['kcat', '-P', '-b', k.bootstrap, '-t', t, '-K', '\t', '-l', file]);
        if (seed.code !== 0) throw new Error(`seeding ${t} failed: ${seed.stderr.slice(-500)}`);
      }
      const broker = [k.pid];
      const mq = record(nameOf(shape), 'mqbak', perTopic * shape.topics, raw);
      // a reference for the one-topic shapes (kcat -C reads one topic): not a target
      const kc = shape.topics === 1 ? record(baselineNameOf(shape), 'baseline', perTopic, raw) : undefined;
      await sampleRounds(kc ? [kc, mq] : [mq], a.reps, async (i, want) => {
        if (kc && want(kc)) await sample(kc, [`kcat -C -b ${k.bootstrap} -t ${topics[0]} -e -o beginning -q > /dev/null`], { shell: true, broker });
        if (want(mq)) {
          const store = join(work, `scale-store-${i}`);
          await sample(mq, mqbak(['backup', `kafka://${k.bootstrap}`, store, '--topics', topics.join(',')]), { env, broker });
          rmSync(store, { recursive: true, force: true });
        }
      });
      if (kc) finish(kc);
      finish(mq);
    } finally {
      await k.stop();
      rmSync(file, { force: true });
    }
  }
}

/** The scale targets (none when the scenario did not run): time per record at 1x against 1/10, and peak RSS under `rssLimitMb`. */
export function scaleTargets(n: number, rssLimitMb: number): TargetCheck[] {
  const out: TargetCheck[] = [];
  const shapes = scaleShapes(n);
  for (const [small, big] of [shapes.slice(0, 2), shapes.slice(2, 4)] as [Shape, Shape][]) {
    const s = find(nameOf(small));
    const b = find(nameOf(big));
    if (!s && !b) continue;
    const what = big.kind === 'partitions' ? `${fmtInt(big.partitions)} vs ${fmtInt(small.partitions)} partitions` : `${big.topics} vs ${small.topics} topics`;
    const perRecord = s?.seconds && b?.seconds ? b.seconds / b.records / (s.seconds / s.records) : null;
    const why = b?.error ?? s?.error ?? 'not run';
    out.push(checkTarget(`scale-${big.kind}-time`, `Scale: time per record, ${what}`, 'at-most', 1.25, perRecord, 'x', perRecord === null ? why : 'bench criterion for "linear": <= 1.25'));
    const rss = Math.max(s?.peakRssMb ?? 0, b?.peakRssMb ?? 0) || null;
    const sizes = big.kind === 'partitions' ? `${fmtInt(small.partitions)} and ${fmtInt(big.partitions)} partitions` : `${small.topics} and ${big.topics} topics`;
    out.push(checkTarget(`scale-${big.kind}-rss`, `Scale: peak RSS, ${sizes}`, 'at-most', rssLimitMb, rss, 'MB', rss === null ? why : undefined));
  }
  return out;
}
