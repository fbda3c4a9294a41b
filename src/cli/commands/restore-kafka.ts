import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { openStoreFromCli } from '../store.js';
import { parseMap } from '../options/common.js';
import { kafkaConnectionFrom } from '../options/kafka.js';

export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = '', target = ''] = args;
  const map = parseMap((opts.map as string[] | undefined) ?? []);
  let until: number | null = null;
  if (opts.until !== undefined) {
    until = Date.parse(String(opts.until));
    if (Number.isNaN(until)) throw new MqbakError('usage', `--until ${String(opts.until)}: expected an ISO 8601 time`);
  }
  const topicsOpt = (opts.topics as string | string[] | undefined) ?? undefined;
  const topics = topicsOpt === undefined ? undefined : (Array.isArray(topicsOpt) ? topicsOpt : topicsOpt.split(',')).map((s) => s.trim()).filter(Boolean);
  if (opts.groups && opts.allGroups) throw new MqbakError('usage', '--groups and --all-groups exclude each other');
  const conn = await kafkaConnectionFrom(target, opts, ctx.env);
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  const stateHome = ctx.env.XDG_STATE_HOME || join(ctx.env.HOME || homedir(), '.local', 'state');
  const journalOpt = (opts.journal as string | undefined) ?? ctx.env.MQBAK_RESTORE_JOURNAL;
  const journalPath = (backupId: string) => {
    if (journalOpt) return journalOpt;
    const h = createHash('sha256')
      .update(JSON.stringify([store.description, backupId, conn.brokers.join(','), map, topics ?? null, until]))
      .digest('hex')
      .slice(0, 24);
    return join(stateHome, 'mqbak', 'restores', `${h}.json`);
  };
  const { restoreKafka } = await import('../../core/kafka-restore.js');
  const r = await restoreKafka({
    connection: { ...conn, progress: ctx.progress, debug: ctx.debug },
    store,
    backupId: (opts.backup as string | undefined) ?? 'latest',
    topics,
    map,
    until,
    groups: opts.groups as string[] | undefined,
    allGroups: Boolean(opts.allGroups),
    allowNonempty: Boolean(opts.allowNonempty),
    dryRun: Boolean(opts.dryRun),
    offsetMapPath: opts.offsetMap as string | undefined,
    producer: producerKind(ctx.env.MQBAK_KAFKA_PRODUCER),
    journalPath,
    signal: ctx.signal,
    progress: ctx.progress,
  });
  const plan = r.plan;
  if (opts.json) {
    ctx.out(
      `${JSON.stringify(
        {
          backup: plan.backupId,
          dryRun: Boolean(opts.dryRun),
          resumed: r.resumed,
          records: r.records,
          alreadyRestored: r.skippedAlreadyRestored,
          topics: r.perTopic,
          streams: plan.streams.map((s) => ({ topic: s.topic, partition: s.partition, targetTopic: s.targetTopic, targetPartition: s.targetPartition, from: s.from.toString(), to: s.to.toString(), records: s.records, backups: s.parts.map((p) => p.backupId) })),
          createTopics: plan.topics,
          until: plan.until === null ? null : new Date(plan.until).toISOString(),
          groups: r.groups,
        },
        null,
        2,
      )}\n`,
    );
  } else if (opts.dryRun) {
    ctx.out(`plan for backup ${plan.backupId}${plan.until !== null ? ` up to ${new Date(plan.until).toISOString()}` : ''} (nothing written):\n`);
    for (const s of plan.streams) ctx.out(`  ${s.topic}[${s.partition}] offsets ${s.from}..${s.to} (${s.records} records stored, ${s.parts.length} backup(s)) -> ${s.targetTopic}[${s.targetPartition}]\n`);
    for (const [t, i] of Object.entries(plan.topics)) ctx.out(`  target topic ${t}: ${i.partitions} partitions (created if missing)\n`);
    for (const g of r.groups) ctx.out(`  group ${g.group}: ${g.topic}[${g.partition}] committed ${g.committed} -> translated on ${g.targetTopic} after the restore\n`);
  } else {
    ctx.out(`restored ${r.records} records from backup ${plan.backupId}${r.resumed ? ` (resumed: ${r.skippedAlreadyRestored} already restored)` : ''}\n`);
    for (const [t, n] of Object.entries(r.perTopic)) ctx.out(`  ${t}: ${n} records\n`);
    for (const g of r.groups) ctx.out(`  group ${g.group}: ${g.targetTopic}[${g.partition}] committed ${g.committed} -> ${g.target}\n`);
  }
  return 0;
}

/** MQBAK_KAFKA_PRODUCER=kafkajs restores through kafkajs' producer instead of mqbak's own. */
function producerKind(v: string | undefined): 'batch' | 'kafkajs' {
  if (v === undefined || v === '' || v === 'batch') return 'batch';
  if (v === 'kafkajs') return 'kafkajs';
  throw new MqbakError('usage', `MQBAK_KAFKA_PRODUCER=${v}: expected batch or kafkajs`);
}
