// `npm run bench`: mqbak against the tools an operator would otherwise use, on the same data, in
// the same run. Every figure is the median of --reps runs of a separate process (wall time, peak
// RSS); every comparison is a ratio. See docs/PERFORMANCE.md.
//
//   npm run bench -- [--scale full|20k|N] [--reps 3] [--only kafka,rabbitmq,nats,growth] [--keep]
//   env: MQBAK_BENCH_SCALE, MQBAK_BENCH_REPS, MQBAK_BENCH_AMQP_URL (default guest@127.0.0.1 /),
//   MQBAK_BENCH_NATS_URL (default: a private nats-server started by test/brokers/nats.sh)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, readdirSync } from 'node:fs';
import { cpus, totalmem, tmpdir, hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MockKafka } from './lib/kafka.js';
import { natsScenarios } from './lib/nats.js';
import { zstdImplementation } from '../src/archive/codec.js';
import { measure, type RunResult } from './lib/proc.js';
import { writeDataFile } from './lib/data.js';
import { encryptedEnv, initEncryptedStore } from './lib/encrypted.js';
import { checkTarget, fmtInt, fmtNum, formatMarkdownTable, formatTable, formatTarget, median, parseScale, speedRatio, type TargetCheck } from './lib/stats.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MQBAK = join(ROOT, 'bin', 'mqbak');
const TSX = ['node', '--import', 'tsx'];
const W = (name: string) => join(ROOT, 'bench', 'workers', name);

interface Args {
  kafkaRecords: number;
  reps: number;
  only: Set<string>;
  keep: boolean;
  profile: boolean;
}

function parseArgs(argv: string[]): Args {
  let scale = process.env.MQBAK_BENCH_SCALE ?? 'full';
  let reps = Number(process.env.MQBAK_BENCH_REPS ?? 3);
  let only = 'kafka,rabbitmq,nats,growth';
  let keep = false;
  let profile = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--scale') scale = next();
    else if (a === '--reps') reps = Number(next());
    else if (a === '--only') only = next();
    else if (a === '--keep') keep = true;
    else if (a === '--profile') profile = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('npm run bench -- [--scale full|20k|N] [--reps 3] [--only kafka,rabbitmq,nats,growth] [--keep] [--profile]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps: expected a positive integer');
  return { kafkaRecords: parseScale(scale), reps, only: new Set(only.split(',')), keep, profile };
}

/** One measured quantity: the samples of every repetition and their median. */
interface Measure {
  name: string;
  tool: 'mqbak' | 'baseline';
  records: number;
  bytes: number;
  samples: { seconds: number; peakRssMb: number | null }[];
  seconds: number | null;
  peakRssMb: number | null;
  error?: string;
}

const results: Measure[] = [];
const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

function record(name: string, tool: Measure['tool'], records: number, bytes: number): Measure {
  const m: Measure = { name, tool, records, bytes, samples: [], seconds: null, peakRssMb: null };
  results.push(m);
  return m;
}

function finish(m: Measure): void {
  if (m.samples.length === 0) return;
  m.seconds = median(m.samples.map((s) => s.seconds));
  const rss = m.samples.map((s) => s.peakRssMb).filter((x): x is number => x !== null);
  m.peakRssMb = rss.length ? Math.max(...rss) : null;
}

/** Runs one sample; a failure is recorded on the measure (and the measure then stays unmeasured). */
async function sample(m: Measure, argv: string[], opts: { shell?: boolean; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult | null> {
  if (m.error) return null;
  const r = await measure(argv, opts);
  if (r.code !== 0) {
    m.error = `exit ${r.code}: ${(r.stderr.trim().split('\n').pop() ?? '').slice(0, 300)}`;
    log(`${m.name}: FAILED ${m.error}`);
    return null;
  }
  m.samples.push({ seconds: r.seconds, peakRssMb: r.peakRssMb });
  log(`${m.name}: ${r.seconds.toFixed(2)} s, peak RSS ${fmtNum(r.peakRssMb, 0)} MB`);
  return r;
}

function mqbak(args: string[], profileDir?: string): string[] {
  // one folder per kind of run (backup-kafka, backup-amqp-drain, restore-amqp, ...) so profiles are findable
  const broker = args.find((x) => /^(kafka|amqps?|nats):\/\//.test(x))?.split(':')[0] ?? 'store';
  const mode = args.includes('--mode') ? `-${args[args.indexOf('--mode') + 1]}` : '';
  const dir = profileDir ? join(profileDir, `${args[0]}-${broker}${mode}`) : undefined;
  return ['node', ...(dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []), MQBAK, ...args, '-q'];
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) n += statSync(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name)).size;
  }
  return n;
}

const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };

async function kafkaScenarios(a: Args, work: string, mockd: string, dataFile: string, n: number, rawBytes: number, profileDir?: string): Promise<void> {
  const k = await MockKafka.start(mockd);
  try {
    const src = 'bench-events';
    await k.createTopic(src, 3);
    log(`kafka: seeding ${n} records into ${src} (3 partitions) at ${k.bootstrap}`);
    const seed = await measure([...TSX, W('kafkajs-produce.ts'), k.bootstrap, src, dataFile], { env });
    if (seed.code !== 0) throw new Error(`seeding failed: ${seed.stderr.slice(-500)}`);
    const url = `kafka://${k.bootstrap}`;

    // 1. backup
    const kcatBackup = record('kafka backup: kcat -C | zstd -3', 'baseline', n, rawBytes);
    const kjsRead = record('kafka backup: kafkajs eachBatch read only', 'baseline', n, rawBytes);
    const mqBackup = record('kafka backup: mqbak', 'mqbak', n, rawBytes);
    // the same with zstd-codec (WebAssembly), as where the optional native binding is missing
    const mqBackupWasm = record('kafka backup: mqbak, zstd-codec (MQBAK_ZSTD=wasm)', 'mqbak', n, rawBytes);
    // the same into an encrypted store (docs/ENCRYPTION.md): every block and manifest sealed
    const mqBackupEnc = record('kafka backup: mqbak, encrypted store', 'mqbak', n, rawBytes);
    const encEnv = encryptedEnv(work, env);
    const kcatFile = join(work, 'kcat.zst');
    let store = '';
    let encStore = '';
    for (let i = 0; i < a.reps; i++) {
      await sample(kcatBackup, [
        `kcat -C -b ${k.bootstrap} -t ${src} -e -o beginning -q -f '%k\\t%s\\n' | zstd -3 -q -f -o ${kcatFile}`,
      ], { shell: true });
      await sample(kjsRead, [...TSX, W('kafkajs-consume.ts'), k.bootstrap, src, String(n)], { env });
      store = join(work, `kstore-${i}`);
      rmSync(store, { recursive: true, force: true });
      await sample(mqBackup, mqbak(['backup', url, store, '--topics', src], i === 0 ? profileDir : undefined), { env });
      const wasmStore = join(work, `kstore-wasm-${i}`);
      await sample(mqBackupWasm, mqbak(['backup', url, wasmStore, '--topics', src]), { env: { ...env, MQBAK_ZSTD: 'wasm' } });
      rmSync(wasmStore, { recursive: true, force: true });
      encStore = join(work, `kstore-enc-${i}`);
      rmSync(encStore, { recursive: true, force: true });
      initEncryptedStore(MQBAK, encStore, encEnv);
      await sample(mqBackupEnc, mqbak(['backup', url, encStore, '--topics', src]), { env: encEnv });
    }
    [kcatBackup, kjsRead, mqBackup, mqBackupWasm, mqBackupEnc].forEach(finish);
    if (existsSync(kcatFile)) kcatBackup.bytes = rawBytes;

    // 4. verify
    const ver = record('kafka verify: mqbak', 'mqbak', n, rawBytes);
    if (mqBackup.samples.length && existsSync(store)) {
      (ver as Measure & { storedBytes?: number }).storedBytes = dirBytes(store);
      for (let i = 0; i < a.reps; i++) await sample(ver, mqbak(['verify', store]), { env });
    } else ver.error = 'no mqbak Kafka backup to verify';
    finish(ver);

    // 2. restore
    const rawFile = join(work, 'kcat.raw');
    if (existsSync(kcatFile)) execFileSync('zstd', ['-d', '-q', '-f', kcatFile, '-o', rawFile]);
    const kcatP = record('kafka restore: kcat -P from a file', 'baseline', n, rawBytes);
    const kjsP = record('kafka restore: kafkajs producer acks -1 idempotent', 'baseline', n, rawBytes);
    const mqRestore = record('kafka restore: mqbak', 'mqbak', n, rawBytes);
    const mqRestoreEnc = record('kafka restore: mqbak, encrypted store', 'mqbak', n, rawBytes);
    for (let i = 0; i < a.reps; i++) {
      if (existsSync(rawFile)) {
        const t = `kcatp-${i}`;
        await k.createTopic(t, 3);
        await sample(kcatP, [
          'kcat', '-P', '-b', k.bootstrap, '-t', t, '-K', '\t', '-X', 'enable.idempotence=true', '-X', 'acks=all', '-l', rawFile,
        ]);
        await k.deleteTopic(t);
      } else kcatP.error = 'no kcat backup file';
      const t2 = `kjs-${i}`;
      await k.createTopic(t2, 3);
      await sample(kjsP, [...TSX, W('kafkajs-produce.ts'), k.bootstrap, t2, dataFile], { env });
      await k.deleteTopic(t2);
      if (mqBackup.samples.length) {
        const t3 = `mq-${i}`;
        await k.createTopic(t3, 3);
        await sample(mqRestore, mqbak(['restore', store, url, '--topics', src, '--map', `${src}=${t3}`], i === 0 ? profileDir : undefined), { env });
        await k.deleteTopic(t3);
      } else mqRestore.error = 'no mqbak Kafka backup to restore';
      if (mqBackupEnc.samples.length) {
        const t4 = `mq-enc-${i}`;
        await k.createTopic(t4, 3);
        await sample(mqRestoreEnc, mqbak(['restore', encStore, url, '--topics', src, '--map', `${src}=${t4}`]), { env: encEnv });
        await k.deleteTopic(t4);
      } else mqRestoreEnc.error = 'no encrypted mqbak Kafka backup to restore';
    }
    [kcatP, kjsP, mqRestore, mqRestoreEnc].forEach(finish);
  } finally {
    await k.stop();
  }
}

async function rabbitScenarios(a: Args, work: string, amqpUrl: string, dataFile: string, n: number, rawBytes: number, profileDir?: string, growthOnly = false): Promise<Measure | null> {
  const q = `bench-q-${process.pid}-${n}`;
  const q2 = `${q}-restored`;
  const tag = growthOnly ? ` (${fmtInt(n)})` : '';
  const pub = record(`rabbitmq publish: amqplib confirms${tag}`, 'baseline', n, rawBytes);
  const cons = record(`rabbitmq consume: amqplib manual ack${tag}`, 'baseline', n, rawBytes);
  const mirror = record(`rabbitmq mirror: mqbak${tag}`, 'mqbak', n, rawBytes);
  const drain = record(`rabbitmq drain: mqbak${tag}`, 'mqbak', n, rawBytes);
  const restore = record(`rabbitmq restore: mqbak${tag}`, 'mqbak', n, rawBytes);
  const prefetch = String(Math.min(n, 65535));
  for (let i = 0; i < a.reps; i++) {
    await deleteQueue(amqpUrl, q);
    await sample(pub, [...TSX, W('amqp-publish.ts'), amqpUrl, q, dataFile], { env });
    if (!growthOnly) {
      const ms = join(work, `rmirror-${i}`);
      await sample(mirror, mqbak(['backup', amqpUrl, ms, '--queues', q, '--mode', 'mirror'], i === 0 ? profileDir : undefined), { env });
      rmSync(ms, { recursive: true, force: true });
      await sample(cons, [...TSX, W('amqp-consume.ts'), amqpUrl, q, String(n), prefetch], { env });
      // refill for the drain (not counted: the publish baseline is sampled once per repetition)
      const refill = await measure([...TSX, W('amqp-publish.ts'), amqpUrl, q, dataFile], { env });
      if (refill.code !== 0) throw new Error(`refill failed: ${refill.stderr.slice(-300)}`);
    }
    const ds = join(work, `rdrain-${n}-${i}`);
    rmSync(ds, { recursive: true, force: true });
    await sample(drain, mqbak(['backup', amqpUrl, ds, '--queues', q, '--mode', 'drain'], i === 0 && !growthOnly ? profileDir : undefined), { env });
    if (!growthOnly && drain.samples.length) {
      await deleteQueue(amqpUrl, q2, true);
      await sample(restore, mqbak(['restore', ds, amqpUrl, '--queues', q, '--map', `${q}=${q2}`], i === 0 ? profileDir : undefined), { env });
      await deleteQueue(amqpUrl, q2);
    }
    if (!growthOnly && i === a.reps - 1 && drain.samples.length) {
      // 4. verify: of the Kafka backup when mqbak has one; of this drain backup in any case
      const ver = record('rabbitmq verify: mqbak', 'mqbak', n, rawBytes) as Measure & { storedBytes?: number };
      ver.storedBytes = dirBytes(ds);
      for (let j = 0; j < a.reps; j++) await sample(ver, mqbak(['verify', ds]), { env });
      finish(ver);
    }
    if (!a.keep) rmSync(ds, { recursive: true, force: true });
  }
  await deleteQueue(amqpUrl, q);
  [pub, cons, mirror, drain, restore].forEach(finish);
  if (growthOnly) {
    // keep only what the growth table needs
    for (const m of [pub, cons, mirror, restore]) results.splice(results.indexOf(m), 1);
  }
  return drain;
}

/** Deletes queue `q`; with `recreate`, declares it again empty (durable classic, like the source). */
async function deleteQueue(url: string, q: string, recreate = false): Promise<void> {
  const amqp = (await import('amqplib')).default;
  const conn = await amqp.connect(url, { noDelay: true });
  const ch = await conn.createChannel();
  await ch.deleteQueue(q);
  if (recreate) await ch.assertQueue(q, { durable: true });
  await ch.close();
  await conn.close();
}

function find(name: string): Measure | undefined {
  return results.find((m) => m.name === name);
}

function ratioOf(mq: string, base: string): number | null {
  const a = find(mq)?.seconds;
  const b = find(base)?.seconds;
  if (a == null || b == null) return null;
  return speedRatio(a, b);
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const nK = a.kafkaRecords;
  const nR = Math.max(100, Math.round(nK / 5));
  const nSmall = Math.max(100, Math.round(nK / 10));
  const started = new Date();
  const work = mkdtempSync(join(tmpdir(), 'mqbak-bench-'));
  const profileDir = a.profile ? join(work, 'profiles') : undefined;
  const amqpUrl = process.env.MQBAK_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
  log(`scale: kafka ${fmtInt(nK)} records, rabbitmq ${fmtInt(nR)} messages, growth ${fmtInt(nSmall)} -> ${fmtInt(nK)}; ${a.reps} reps; work dir ${work}`);
  for (const tool of ['kcat', 'zstd']) {
    try {
      execFileSync('bash', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing: apt-get install -y kcat zstd`);
    }
  }
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: npm run build first');

  const dataK = join(work, 'kafka.bin');
  const statK = await writeDataFile(dataK, nK);
  log(`data: ${fmtInt(nK)} records, ${fmtInt(statK.rawBytes)} raw bytes (keys+values+headers), mean value ${fmtInt(statK.valueBytes / nK)} B`);
  const growth: { n: number; m: Measure | undefined }[] = [];

  if (a.only.has('kafka')) {
    const mockd = MockKafka.binary(ROOT);
    await kafkaScenarios(a, work, mockd, dataK, nK, statK.rawBytes, profileDir);
  }
  const dataR = join(work, 'rabbit.bin');
  const statR = await writeDataFile(dataR, nR);
  if (a.only.has('rabbitmq')) {
    execFileSync('bash', [join(ROOT, 'test/brokers/start-rabbitmq.sh')], { stdio: 'inherit' });
    await rabbitScenarios(a, work, amqpUrl, dataR, nR, statR.rawBytes, profileDir);
  }
  // NATS at the RabbitMQ scale (one stream, one connection, like a queue)
  if (a.only.has('nats')) {
    const h = { root: ROOT, reps: a.reps, keep: a.keep, finish, worker: (name: string) => [...TSX, W(name)], log };
    await natsScenarios(
      { ...h, record: (name, tool) => record(name, tool, nR, statR.rawBytes), sample: (m, argv) => sample(m, argv, { env }), mqbak: (args, p) => mqbak(args, p ? profileDir : undefined) },
      work,
      dataR,
      nR,
    );
  }
  if (a.only.has('growth')) {
    // Kafka backup at 1/10 of the scale and at the scale; RabbitMQ drain likewise when Kafka's is missing
    const kafkaBig = find('kafka backup: mqbak');
    if (kafkaBig && kafkaBig.samples.length) {
      const small = join(work, 'kafka-small.bin');
      const st = await writeDataFile(small, nSmall);
      const saved = results.length;
      mkdirSync(join(work, "g"), { recursive: true });
      await kafkaScenarios({ ...a, reps: a.reps }, join(work, 'g'), MockKafka.binary(ROOT), small, nSmall, st.rawBytes).catch((e) => log(`growth: ${e}`));
      const sm = results.slice(saved).find((m) => m.name === 'kafka backup: mqbak');
      results.splice(saved);
      if (sm) {
        sm.name = `kafka backup: mqbak (${fmtInt(nSmall)})`;
        results.push(sm);
      }
      growth.push({ n: nSmall, m: sm }, { n: nK, m: kafkaBig });
    } else {
      log('growth: mqbak Kafka backup unavailable, measuring RabbitMQ drain growth instead');
      const small = join(work, 'rabbit-small.bin');
      const nRs = Math.max(100, Math.round(nR / 10));
      const s1 = await writeDataFile(small, nRs);
      execFileSync('bash', [join(ROOT, 'test/brokers/start-rabbitmq.sh')], { stdio: 'inherit' });
      growth.push({ n: nRs, m: (await rabbitScenarios(a, work, amqpUrl, small, nRs, s1.rawBytes, undefined, true)) ?? undefined });
      let big = find('rabbitmq drain: mqbak');
      if (!big?.seconds) {
        const bigFile = join(work, 'rabbit-big.bin');
        const s2 = await writeDataFile(bigFile, nR);
        big = (await rabbitScenarios(a, work, amqpUrl, bigFile, nR, s2.rawBytes, undefined, true)) ?? undefined;
      }
      growth.push({ n: nR, m: big });
    }
  }

  // ---- targets
  const why = (mq: string) => find(mq)?.error ?? (find(mq) ? undefined : 'not run');
  const targets: TargetCheck[] = [
    checkTarget('kafka-backup-vs-kcat', 'Kafka backup vs kcat -C | zstd -3', 'at-least', 1.0, ratioOf('kafka backup: mqbak', 'kafka backup: kcat -C | zstd -3'), 'x', why('kafka backup: mqbak')),
    checkTarget('kafka-restore-vs-kafkajs', 'Kafka restore vs kafkajs producer', 'at-least', 1.0, ratioOf('kafka restore: mqbak', 'kafka restore: kafkajs producer acks -1 idempotent'), 'x', why('kafka restore: mqbak')),
    checkTarget('kafka-encrypted-backup', 'Kafka backup, encrypted store vs not', 'at-least', 0.9, ratioOf('kafka backup: mqbak, encrypted store', 'kafka backup: mqbak'), 'x', why('kafka backup: mqbak, encrypted store')),
    checkTarget('kafka-encrypted-restore', 'Kafka restore, encrypted store vs not', 'at-least', 0.9, ratioOf('kafka restore: mqbak, encrypted store', 'kafka restore: mqbak'), 'x', why('kafka restore: mqbak, encrypted store')),
    checkTarget('kafka-restore-vs-kcat', 'Kafka restore vs kcat -P', 'at-least', 0.5, ratioOf('kafka restore: mqbak', 'kafka restore: kcat -P from a file'), 'x', why('kafka restore: mqbak')),
    checkTarget('rabbitmq-drain-vs-consumer', 'RabbitMQ drain vs amqplib consumer', 'at-least', 0.9, ratioOf('rabbitmq drain: mqbak', 'rabbitmq consume: amqplib manual ack'), 'x', why('rabbitmq drain: mqbak')),
    checkTarget('rabbitmq-restore-vs-publisher', 'RabbitMQ restore vs amqplib publisher', 'at-least', 0.9, ratioOf('rabbitmq restore: mqbak', 'rabbitmq publish: amqplib confirms'), 'x', why('rabbitmq restore: mqbak')),
    checkTarget('nats-backup-vs-consumer', 'JetStream backup vs ordered consumer', 'at-least', 0.9, ratioOf('nats backup: mqbak', 'nats backup baseline: ordered consumer read only'), 'x', why('nats backup: mqbak')),
    checkTarget('nats-restore-vs-publisher', 'JetStream restore vs js.publish with acks', 'at-least', 0.9, ratioOf('nats restore: mqbak', 'nats restore baseline: js.publish with acks'), 'x', why('nats restore: mqbak')),
  ];
  const mqRuns = results.filter((m) => m.tool === 'mqbak' && m.peakRssMb !== null);
  const maxRss = mqRuns.length ? Math.max(...mqRuns.map((m) => m.peakRssMb as number)) : null;
  const worst = mqRuns.find((m) => m.peakRssMb === maxRss);
  targets.push(checkTarget('peak-rss', 'Peak RSS of any mqbak run', 'at-most', 256, maxRss, 'MB', worst ? `highest: ${worst.name}` : 'no mqbak run measured'));
  const [g0, g1] = growth;
  let growthInfo: Record<string, unknown> | null = null;
  if (g0?.m?.seconds && g1?.m?.seconds) {
    const perRecord = g1.m.seconds / g1.n / (g0.m.seconds / g0.n);
    const rssGrowth = g1.m.peakRssMb && g0.m.peakRssMb ? g1.m.peakRssMb / g0.m.peakRssMb : null;
    growthInfo = { what: g1.m.name, small: { records: g0.n, seconds: g0.m.seconds, peakRssMb: g0.m.peakRssMb }, large: { records: g1.n, seconds: g1.m.seconds, peakRssMb: g1.m.peakRssMb }, timePerRecordRatio: perRecord, rssRatio: rssGrowth };
    // "linear" read as: time per record at 10x the size at most 1.25x (start-up costs make it fall)
    targets.push(checkTarget('growth-time', `Time per record, ${fmtInt(g1.n)} vs ${fmtInt(g0.n)} (${g1.m.name.replace(/ \(.*\)$/, '')})`, 'at-most', 1.25, perRecord, 'x', 'bench criterion for "linear": <= 1.25'));
    targets.push(checkTarget('growth-rss', `Peak RSS, ${fmtInt(g1.n)} vs ${fmtInt(g0.n)}`, 'at-most', 1.25, rssGrowth, 'x', 'bench criterion for "flat": <= 1.25'));
  }

  // ---- output
  const header = ['run', 'records', 'median s', 'rec/s', 'MB/s raw', 'peak RSS MB', 'samples'];
  const rows = results.map((m) => [
    m.name + (m.error ? ' (FAILED)' : ''),
    fmtInt(m.records),
    fmtNum(m.seconds),
    m.seconds ? fmtInt(m.records / m.seconds) : '-',
    m.seconds ? fmtNum(m.bytes / 1e6 / m.seconds, 1) : '-',
    fmtNum(m.peakRssMb, 0),
    m.samples.map((s) => s.seconds.toFixed(2)).join(' '),
  ]);
  const tHeader = ['target', 'goal', 'measured', 'result'];
  const tRows = targets.map((t) => [t.description, `${t.kind === 'at-least' ? '>=' : '<='} ${t.target}${t.unit}`, t.value === null ? '-' : `${fmtNum(t.value)}${t.unit}`, formatTarget(t)]);
  const verifies = ['kafka verify: mqbak', 'rabbitmq verify: mqbak'].map((v) => find(v) as (Measure & { storedBytes?: number }) | undefined);
  const verify = verifies.find((v) => v?.seconds && v.storedBytes);
  const extra: string[] = [];
  for (const v of verifies) {
    if (!v?.seconds || !v.storedBytes) continue;
    extra.push(`${v.name}: ${fmtNum(v.storedBytes / 1e6 / v.seconds, 1)} MB/s stored (${fmtInt(v.storedBytes)} B), ${fmtNum(v.bytes / 1e6 / v.seconds, 1)} MB/s raw; compression ratio ${fmtNum(v.bytes / v.storedBytes)}`);
  }
  const wasmRatio = ratioOf('kafka backup: mqbak, zstd-codec (MQBAK_ZSTD=wasm)', 'kafka backup: kcat -C | zstd -3');
  if (wasmRatio !== null) extra.push(`kafka backup with zstd-codec instead of the native binding: ${fmtNum(wasmRatio)}x kcat -C | zstd -3 (not a target; the default is ${zstdImplementation()})`);
  const out = [
    `mqbak bench ${started.toISOString()} - kafka ${fmtInt(nK)} records / 3 partitions, rabbitmq ${fmtInt(nR)} messages, median of ${a.reps}`,
    '',
    formatTable(header, rows),
    '',
    formatTable(tHeader, tRows),
    ...(extra.length ? ['', ...extra] : []),
    ...results.filter((m) => m.error).map((m) => `! ${m.name}: ${m.error}`),
  ].join('\n');
  process.stdout.write(out + '\n');

  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const resDir = join(ROOT, 'bench', 'results');
  mkdirSync(resDir, { recursive: true });
  const json = {
    started: started.toISOString(),
    finished: new Date().toISOString(),
    scale: { kafkaRecords: nK, kafkaPartitions: 3, rabbitmqMessages: nR, growth: [nSmall, nK] },
    reps: a.reps,
    machine: { host: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memMb: Math.round(totalmem() / 2 ** 20), node: process.version, zstd: zstdImplementation() },
    data: { kafkaRawBytes: statK.rawBytes, rabbitmqRawBytes: statR.rawBytes },
    runs: results,
    targets,
    growth: growthInfo,
    verify: verify?.seconds && verify.storedBytes ? { of: verify.name, storedBytes: verify.storedBytes, rawBytes: verify.bytes, storedMBps: verify.storedBytes / 1e6 / verify.seconds, rawMBps: verify.bytes / 1e6 / verify.seconds } : null,
    profiles: profileDir ?? null,
    markdown: { runs: formatMarkdownTable(header, rows), targets: formatMarkdownTable(tHeader, tRows) },
  };
  const file = join(resDir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n');
  log(`wrote ${file}${profileDir ? `; CPU profiles in ${profileDir}` : ''}`);
  if (!a.keep) {
    for (const f of readdirSync(work)) if (f !== 'profiles') rmSync(join(work, f), { recursive: true, force: true });
  } else log(`kept ${work}`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
