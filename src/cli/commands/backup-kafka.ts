import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { openStoreFromCli } from '../store.js';
import { TOOL_VERSION } from '../version.js';
import { redactUrl } from '../urls.js';
import { kafkaConnectionFrom } from '../options/kafka.js';

export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [source = '', storeUrl = ''] = args;
  if (opts.queues || opts.allQueues) throw new MqbakError('usage', '--queues/--all-queues are for RabbitMQ sources', { hint: 'name Kafka topics with --topics' });
  const topics = opts.topics as string[] | undefined;
  if ((!topics || topics.length === 0) && opts.topicRegex === undefined) throw new MqbakError('usage', 'no topics given', { hint: 'name them with --topics a,b or --topic-regex' });
  const isolation = (opts.isolation as string | undefined) ?? 'read_committed';
  if (isolation !== 'read_committed' && isolation !== 'read_uncommitted') throw new MqbakError('usage', `--isolation ${isolation}: expected read_committed or read_uncommitted`);
  const conn = await kafkaConnectionFrom(source, opts, ctx.env);
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  const { backupKafka } = await import('../../core/kafka-backup.js');
  const r = await backupKafka({
    connection: { ...conn, progress: ctx.progress, debug: ctx.debug },
    url: redactUrl(source),
    store,
    topics,
    topicRegex: opts.topicRegex as string | undefined,
    groups: opts.groups as string[] | undefined,
    isolation,
    full: Boolean(opts.full),
    toolVersion: TOOL_VERSION,
    segmentSize: opts.segmentSize as number | undefined,
    level: opts.level as number | undefined,
    signal: ctx.signal,
    progress: ctx.progress,
    reader: readerKind(ctx.env.MQBAK_KAFKA_CONSUMER),
  });
  const m = r.manifest;
  if (opts.json) {
    ctx.out(
      `${JSON.stringify(
        {
          id: m.id,
          kind: m.kind,
          parent: m.parent?.id ?? null,
          records: r.records,
          streams: m.streams.map((s) => ({ name: s.name, topic: s.address.topic, partition: s.address.partition, from: s.from, to: s.to, records: s.records, gaps: s.gaps })),
          warnings: m.warnings,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    ctx.out(`backup ${m.id}: ${m.kind}${m.parent ? ` after ${m.parent.id}` : ''}, ${r.records} records in ${m.streams.length} partitions\n`);
    for (const s of m.streams) ctx.out(`  ${s.address.topic}[${s.address.partition}] offsets ${s.from}..${s.to}: ${s.records} records${s.gaps.length ? `, ${s.gaps.length} gap(s)` : ''}\n`);
  }
  return 0;
}

/** MQBAK_KAFKA_CONSUMER=kafkajs reads through kafkajs' consumer instead of mqbak's own Fetch reader. */
function readerKind(v: string | undefined): 'fetch' | 'kafkajs' {
  if (v === undefined || v === '' || v === 'fetch') return 'fetch';
  if (v === 'kafkajs') return 'kafkajs';
  throw new MqbakError('usage', `MQBAK_KAFKA_CONSUMER=${v}: expected fetch or kafkajs`);
}
