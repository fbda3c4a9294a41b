// `npm run bench`: mqbak against the tools an operator would otherwise use, on the same data, in
// the same run. Every figure is the median of several runs of a separate process (wall time, peak
// RSS, the broker's CPU time; bench/lib/reps.ts says how many); every comparison is a ratio of
// medians. See docs/PERFORMANCE.md.
//
//   npm run bench -- [--scale full|20k|N] [--reps 3] [--only kafka,s3,rabbitmq,nats,growth,scale] [--keep]
//   env: MQBAK_BENCH_SCALE, MQBAK_BENCH_REPS, MQBAK_BENCH_AMQP_URL (default guest@127.0.0.1 /),
//   MQBAK_BENCH_NATS_URL (default: a private nats-server started by test/brokers/nats.sh)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, totalmem, tmpdir, hostname, loadavg } from 'node:os';
import { join } from 'node:path';
import { MockKafka } from './lib/kafka.js';
import { natsScenarios } from './lib/nats.js';
import { kafkaScenarios } from './lib/kafka-scenarios.js';
import { rabbitScenarios } from './lib/rabbitmq-scenarios.js';
import { S3_RUNS, s3Scenarios } from './lib/s3-scenarios.js';
import { kafkaScaleScenarios, scaleShapes, scaleTargets } from './lib/kafka-scale.js';
import { NOISY_BASELINE_REPS, SPREAD_LIMIT } from './lib/reps.js';
import { ROOT, TSX, W, env, find, finish, log, mqbak, ratioOf, record, results, sample, type Measure } from './lib/harness.js';
import { zstdImplementation } from '../src/archive/codec.js';
import { writeDataFile } from './lib/data.js';
import { checkTarget, fmtInt, fmtNum, formatMarkdownTable, formatTable, formatTarget, parseScale, type TargetCheck } from './lib/stats.js';

interface Args {
  kafkaRecords: number;
  /** base rounds of the Kafka, NATS and scale scenarios */
  reps: number;
  /** base rounds of the RabbitMQ scenarios: 5, or --reps when given */
  rabbitReps: number;
  only: Set<string>;
  keep: boolean;
  profile: boolean;
}

function parseArgs(argv: string[]): Args {
  let scale = process.env.MQBAK_BENCH_SCALE ?? 'full';
  const repsEnv = process.env.MQBAK_BENCH_REPS;
  let reps = Number(repsEnv ?? 3);
  let repsGiven = repsEnv !== undefined;
  let only = 'kafka,s3,rabbitmq,nats,growth';
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
    else if (a === '--reps') {
      reps = Number(next());
      repsGiven = true;
    }
    else if (a === '--only') only = next();
    else if (a === '--keep') keep = true;
    else if (a === '--profile') profile = true;
    else if (a === '--help' || a === '-h') {
      process.stdout.write('npm run bench -- [--scale full|20k|N] [--reps 3] [--only kafka,s3,rabbitmq,nats,growth,scale] [--keep] [--profile]\n');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!Number.isInteger(reps) || reps < 1) throw new Error('--reps: expected a positive integer');
  return { kafkaRecords: parseScale(scale), reps, rabbitReps: repsGiven ? reps : 5, only: new Set(only.split(',')), keep, profile };
}


async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const nK = a.kafkaRecords;
  const nR = Math.max(100, Math.round(nK / 5));
  const nSmall = Math.max(100, Math.round(nK / 10));
  const started = new Date();
  const load0 = loadavg();
  const work = mkdtempSync(join(tmpdir(), 'mqbak-bench-'));
  const profileDir = a.profile ? join(work, 'profiles') : undefined;
  const amqpUrl = process.env.MQBAK_BENCH_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672/%2F';
  log(`scale: kafka ${fmtInt(nK)} records, rabbitmq ${fmtInt(nR)} messages, growth ${fmtInt(nSmall)} -> ${fmtInt(nK)}; ${a.reps} reps (RabbitMQ ${a.rabbitReps}); work dir ${work}`);
  for (const tool of ['kcat', 'zstd']) {
    try {
      execFileSync('bash', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${tool} is missing: apt-get install -y kcat zstd`);
    }
  }
  if (!existsSync(join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: npm run build first');

  const dataK = join(work, 'kafka.bin');
  // the data files only when a scenario reads them (the scale scenario writes its own)
  const none = { rawBytes: 0, valueBytes: 0 };
  const statK = a.only.has('kafka') || a.only.has('growth') || a.only.has('s3') ? await writeDataFile(dataK, nK) : none;
  log(`data: ${fmtInt(nK)} records, ${fmtInt(statK.rawBytes)} raw bytes (keys+values+headers), mean value ${fmtInt(statK.valueBytes / nK)} B`);
  const growth: { n: number; m: Measure | undefined }[] = [];

  if (a.only.has('kafka')) {
    const mockd = MockKafka.binary(ROOT);
    await kafkaScenarios(a, work, mockd, dataK, nK, statK.rawBytes, profileDir);
  }
  if (a.only.has('s3')) await s3Scenarios(a, work, MockKafka.binary(ROOT), dataK, nK, statK.rawBytes);
  const dataR = join(work, 'rabbit.bin');
  const statR = a.only.has('rabbitmq') || a.only.has('nats') ? await writeDataFile(dataR, nR) : none;
  if (a.only.has('rabbitmq')) {
    execFileSync('bash', [join(ROOT, 'test/brokers/start-rabbitmq.sh')], { stdio: 'inherit' });
    await rabbitScenarios({ ...a, reps: a.rabbitReps }, work, amqpUrl, dataR, nR, statR.rawBytes, profileDir);
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
      growth.push({ n: nRs, m: (await rabbitScenarios({ ...a, reps: a.rabbitReps }, work, amqpUrl, small, nRs, s1.rawBytes, undefined, true)) ?? undefined });
      let big = find('rabbitmq drain: mqbak');
      if (!big?.seconds) {
        const bigFile = join(work, 'rabbit-big.bin');
        const s2 = await writeDataFile(bigFile, nR);
        big = (await rabbitScenarios({ ...a, reps: a.rabbitReps }, work, amqpUrl, bigFile, nR, s2.rawBytes, undefined, true)) ?? undefined;
      }
      growth.push({ n: nR, m: big });
    }
  }
  // many partitions and many topics of small records, at 1/10 and 1x (bench/lib/kafka-scale.ts)
  if (a.only.has('scale')) {
    mkdirSync(join(work, 'scale'), { recursive: true });
    await kafkaScaleScenarios(a, join(work, 'scale'), MockKafka.binary(ROOT), nK);
  }

  // ---- targets
  const why = (mq: string) => find(mq)?.error ?? (find(mq) ? undefined : 'not run');
  const targets: TargetCheck[] = [
    checkTarget('kafka-backup-vs-kcat', 'Kafka backup vs kcat -C | zstd -3', 'at-least', 2.0, ratioOf('kafka backup: mqbak', 'kafka backup: kcat -C | zstd -3'), 'x', why('kafka backup: mqbak')),
    checkTarget('kafka-backup-vs-kcat-read', 'Kafka backup vs kcat -C read only', 'at-least', 0.8, ratioOf('kafka backup: mqbak', 'kafka backup: kcat -C read only'), 'x', why('kafka backup: mqbak')),
    checkTarget('kafka-restore-vs-kafkajs', 'Kafka restore vs kafkajs producer', 'at-least', 1.0, ratioOf('kafka restore: mqbak', 'kafka restore: kafkajs producer acks -1 idempotent'), 'x', why('kafka restore: mqbak')),
    checkTarget('kafka-encrypted-backup', 'Kafka backup, encrypted store vs not', 'at-least', 0.9, ratioOf('kafka backup: mqbak, encrypted store', 'kafka backup: mqbak'), 'x', why('kafka backup: mqbak, encrypted store')),
    checkTarget('kafka-encrypted-restore', 'Kafka restore, encrypted store vs not', 'at-least', 0.9, ratioOf('kafka restore: mqbak, encrypted store', 'kafka restore: mqbak'), 'x', why('kafka restore: mqbak, encrypted store')),
    checkTarget('kafka-restore-vs-kcat', 'Kafka restore vs kcat -P', 'at-least', 0.75, ratioOf('kafka restore: mqbak', 'kafka restore: kcat -P from a file'), 'x', why('kafka restore: mqbak')),
    checkTarget('rabbitmq-drain-vs-consumer', 'RabbitMQ drain vs amqplib consumer', 'at-least', 0.9, ratioOf('rabbitmq drain: mqbak', 'rabbitmq consume: amqplib manual ack'), 'x', why('rabbitmq drain: mqbak')),
    checkTarget('rabbitmq-mirror-vs-consumer', 'RabbitMQ mirror vs amqplib consumer', 'at-least', 0.9, ratioOf('rabbitmq mirror: mqbak', 'rabbitmq consume: amqplib manual ack'), 'x', why('rabbitmq mirror: mqbak')),
    checkTarget('rabbitmq-restore-vs-publisher', 'RabbitMQ restore vs amqplib publisher', 'at-least', 1.0, ratioOf('rabbitmq restore: mqbak', 'rabbitmq publish: amqplib confirms'), 'x', why('rabbitmq restore: mqbak')),
    checkTarget('nats-backup-vs-consumer', 'JetStream backup vs ordered consumer', 'at-least', 0.9, ratioOf('nats backup: mqbak', 'nats backup baseline: ordered consumer read only'), 'x', why('nats backup: mqbak')),
    checkTarget('nats-restore-vs-publisher', 'JetStream restore vs js.publish with acks', 'at-least', 0.9, ratioOf('nats restore: mqbak', 'nats restore baseline: js.publish with acks'), 'x', why('nats restore: mqbak')),
    checkTarget('s3-backup-vs-local', 'S3 (s3rver) backup vs local folder', 'at-least', 0.8, ratioOf(S3_RUNS.backupS3, S3_RUNS.backupLocal), 'x', why(S3_RUNS.backupS3)),
    checkTarget('s3-restore-vs-local', 'S3 (s3rver) restore vs local folder', 'at-least', 0.8, ratioOf(S3_RUNS.restoreS3, S3_RUNS.restoreLocal), 'x', why(S3_RUNS.restoreS3)),
  ];
  for (const v of ['kafka verify: mqbak', 'rabbitmq verify: mqbak']) {
    const m = find(v);
    const rawMBps = m?.seconds ? m.bytes / 1e6 / m.seconds : null;
    targets.push(checkTarget(`${v.split(' ')[0]}-verify-rate`, `${v.replace(': mqbak', '')}, MB/s of raw data`, 'at-least', 300, rawMBps, ' MB/s', why(v)));
  }
  const RSS_LIMIT_MB = 192;
  const mqRuns = results.filter((m) => m.tool === 'mqbak' && m.peakRssMb !== null);
  const maxRss = mqRuns.length ? Math.max(...mqRuns.map((m) => m.peakRssMb as number)) : null;
  const worst = mqRuns.find((m) => m.peakRssMb === maxRss);
  const over = mqRuns.filter((m) => (m.peakRssMb as number) > RSS_LIMIT_MB).map((m) => `${m.name} ${fmtNum(m.peakRssMb, 0)} MB`);
  targets.push(checkTarget('peak-rss', 'Peak RSS of every mqbak run', 'at-most', RSS_LIMIT_MB, maxRss, 'MB', over.length ? `over: ${over.join('; ')}` : worst ? `highest: ${worst.name}` : 'no mqbak run measured'));
  targets.push(...scaleTargets(nK, RSS_LIMIT_MB));
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
  // rates are of the median; spread = (max - min) / median; broker CPU: median of the samples
  const header = ['run', 'records', 'n', 'min s', 'median s', 'max s', 'spread', 'rec/s', 'MB/s raw', 'peak RSS MB', 'broker CPU s'];
  const rows = results.map((m) => [
    m.name + (m.error ? ' (FAILED)' : ''),
    fmtInt(m.records),
    String(m.samples.length),
    fmtNum(m.min),
    fmtNum(m.seconds),
    fmtNum(m.max),
    m.spread === null ? '-' : `${fmtNum(m.spread * 100, 0)}%`,
    m.seconds ? fmtInt(m.records / m.seconds) : '-',
    m.seconds ? fmtNum(m.bytes / 1e6 / m.seconds, 1) : '-',
    fmtNum(m.peakRssMb, 0),
    fmtNum(m.brokerCpuSeconds),
  ]);
  const tHeader = ['target', 'goal', 'measured', 'result'];
  const tRows = targets.map((t) => [t.description, `${t.kind === 'at-least' ? '>=' : '<='} ${t.target}${t.unit}`, t.value === null ? '-' : `${fmtNum(t.value)}${t.unit}`, formatTarget(t)]);
  const verifies = ['kafka verify: mqbak', 'rabbitmq verify: mqbak'].map((v) => find(v) as (Measure & { storedBytes?: number }) | undefined);
  const extra: string[] = [];
  for (const v of verifies) {
    if (!v?.seconds || !v.storedBytes) continue;
    extra.push(`${v.name}: ${fmtNum(v.storedBytes / 1e6 / v.seconds, 1)} MB/s stored (${fmtInt(v.storedBytes)} B), ${fmtNum(v.bytes / 1e6 / v.seconds, 1)} MB/s raw; compression ratio ${fmtNum(v.bytes / v.storedBytes)}`);
  }
  const wasmRatio = ratioOf('kafka backup: mqbak, zstd-codec (MQBAK_ZSTD=wasm)', 'kafka backup: kcat -C | zstd -3');
  if (wasmRatio !== null) extra.push(`kafka backup with zstd-codec instead of the native binding: ${fmtNum(wasmRatio)}x kcat -C | zstd -3 (not a target; the default is ${zstdImplementation()})`);
  const out = [
    `mqbak bench ${started.toISOString()} - kafka ${fmtInt(nK)} records / 3 partitions, rabbitmq ${fmtInt(nR)} messages; ${a.reps} rounds (RabbitMQ ${a.rabbitReps}), a baseline spread over ${SPREAD_LIMIT * 100}% topped up to ${NOISY_BASELINE_REPS}; load average ${load0.map((x) => x.toFixed(1)).join(' ')} at the start, ${loadavg().map((x) => x.toFixed(1)).join(' ')} at the end`,
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
    reps: { base: a.reps, rabbitmq: a.rabbitReps, spreadLimit: SPREAD_LIMIT, noisyBaselineReps: NOISY_BASELINE_REPS },
    loadAverage: { start: load0, end: loadavg() },
    machine: { host: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memMb: Math.round(totalmem() / 2 ** 20), node: process.version, zstd: zstdImplementation() },
    data: { kafkaRawBytes: statK.rawBytes, rabbitmqRawBytes: statR.rawBytes },
    runs: results,
    targets,
    growth: growthInfo,
    verify: verifies.flatMap((v) => (v?.seconds && v.storedBytes ? [{ of: v.name, storedBytes: v.storedBytes, rawBytes: v.bytes, storedMBps: v.storedBytes / 1e6 / v.seconds, rawMBps: v.bytes / 1e6 / v.seconds }] : [])),
    scaleShapes: a.only.has('scale') ? scaleShapes(nK) : null,
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
