import { MqbakError } from '../../common/errors.js';
import type { CliContext } from '../context.js';
import { openStoreFromCli } from '../store.js';
import { TOOL_VERSION } from '../version.js';
import { redactUrl } from '../urls.js';

/**
 * Management API address and credentials: --management-url, else MQBAK_RABBITMQ_MANAGEMENT_URL,
 * else http(s)://<amqp host>:15672 (15671 for amqps). Credentials in that URL win; otherwise the
 * AMQP URL's (guest/guest when it has none).
 */
export function managementFrom(amqpUrl: string, opts: Record<string, unknown>, env: NodeJS.ProcessEnv): { url: string; user: string; password: string } {
  let a: URL;
  try {
    a = new URL(amqpUrl);
  } catch {
    throw new MqbakError('usage', `not a valid AMQP URL: ${redactUrl(amqpUrl)}`, { hint: 'expected amqp://user:pass@host:port/vhost (vhost "/" is %2F)' });
  }
  const explicit = (opts.managementUrl as string | undefined) ?? env.MQBAK_RABBITMQ_MANAGEMENT_URL;
  const host = a.hostname;
  const raw = explicit ?? (a.protocol === 'amqps:' ? `https://${host}:15671` : `http://${host}:15672`);
  let m: URL;
  try {
    m = new URL(raw);
  } catch {
    throw new MqbakError('usage', `--management-url ${redactUrl(raw)}: not a valid URL`, { hint: 'e.g. http://rabbit:15672' });
  }
  const user = m.username ? decodeURIComponent(m.username) : a.username ? decodeURIComponent(a.username) : 'guest';
  const password = m.username ? decodeURIComponent(m.password) : a.username ? decodeURIComponent(a.password) : 'guest';
  m.username = '';
  m.password = '';
  return { url: m.toString(), user, password };
}

function seconds(opts: Record<string, unknown>, key: string, env: string | undefined): number | undefined {
  const v = opts[key] ?? env;
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new MqbakError('usage', `${key}: expected a positive number of seconds`);
  return n * 1000;
}

export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [source = '', storeUrl = ''] = args;
  const mode = (opts.mode as string | undefined) ?? 'mirror';
  if (mode !== 'mirror' && mode !== 'drain') throw new MqbakError('usage', `--mode ${mode}: expected mirror or drain`);
  if (opts.topics || opts.topicRegex) throw new MqbakError('usage', '--topics/--topic-regex are for Kafka sources', { hint: 'name RabbitMQ queues with --queues' });
  const queues = opts.queues as string[] | undefined;
  if (!opts.allQueues && (!queues || queues.length === 0)) {
    throw new MqbakError('usage', 'no queues given', { hint: 'name them with --queues a,b or use --all-queues' });
  }
  if (opts.allQueues && queues && queues.length > 0) throw new MqbakError('usage', '--queues and --all-queues exclude each other');
  if (opts.maxMessages !== undefined && mode !== 'drain') throw new MqbakError('usage', '--max-messages applies to --mode drain only');
  const checkpoint = opts.checkpoint as number | undefined;
  if (checkpoint !== undefined && checkpoint > 65535) {
    throw new MqbakError('usage', '--checkpoint: at most 65535 (the AMQP prefetch limit: a checkpoint is held unacknowledged)');
  }
  const management = managementFrom(source, opts, ctx.env);
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  const { backupRabbitmq } = await import('../../core/rabbitmq-backup.js');
  try {
    const r = await backupRabbitmq({
      url: source,
      management,
      store,
      queues,
      allQueues: Boolean(opts.allQueues),
      mode,
      maxMessages: opts.maxMessages as number | undefined,
      acceptRedeliveryRisk: Boolean(opts.acceptRedeliveryRisk),
      includeUsers: Boolean(opts.includeUsers),
      full: Boolean(opts.full),
      toolVersion: TOOL_VERSION,
      segmentSize: opts.segmentSize as number | undefined,
      level: opts.level as number | undefined,
      holdTimeoutMs: seconds(opts, 'holdTimeout', ctx.env.MQBAK_RABBITMQ_HOLD_TIMEOUT),
      checkpointMessages: checkpoint,
      signal: ctx.signal,
      progress: ctx.progress,
    });
    const last = r.backups[r.backups.length - 1]!.manifest;
    const first = r.backups[0]!.manifest;
    const records = r.backups.reduce((n, b) => n + b.manifest.streams.reduce((m, s) => m + s.records, 0), 0);
    if (opts.json) {
      ctx.out(
        `${JSON.stringify(
          {
            id: last.id,
            kind: first.kind,
            parent: first.parent?.id ?? null,
            records,
            backups: r.backups.map((b) => b.manifest.id),
            mode,
            streams: r.queues.map((q) => ({
              name: q.stream,
              queue: q.queue,
              type: q.type,
              records: q.records,
              depthAtStart: q.depthAtStart,
              redelivered: q.redelivered,
              returnedToQueue: q.returnedToQueue,
              acked: q.acked,
              mayDuplicatePrevious: q.mayDuplicatePrevious,
            })),
            warnings: r.warnings,
          },
          null,
          2,
        )}\n`,
      );
    } else {
      const ids = r.backups.length === 1 ? last.id : `${first.id} .. ${last.id} (${r.backups.length} checkpoints)`;
      ctx.out(`backup ${ids}: ${first.kind}${first.parent ? ` after ${first.parent.id}` : ''}, ${records} records, mode ${mode}\n`);
      for (const q of r.queues) {
        let what: string;
        if (q.type === 'stream') what = `${q.records} records read by offset (nothing changed on the broker)`;
        else if (mode === 'mirror') {
          what = `${q.records} of ${q.depthAtStart} messages copied${q.returnedToQueue ? ' and returned to the queue (RabbitMQ now marks them redelivered)' : ''}`;
        } else what = `${q.records} messages archived and acknowledged (removed from the queue)`;
        ctx.out(`  ${q.queue} (${q.type}): ${what}${q.mayDuplicatePrevious ? '; some came redelivered and may duplicate an interrupted earlier run' : ''}\n`);
      }
      if (r.warnings.length > 0) ctx.out(`  ${r.warnings.length} warning(s): see mqbak show ${last.id}\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}
