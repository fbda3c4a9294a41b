/**
 * The RabbitMQ BrokerSource: which queues, their cut and the refusals (select), the vhost's
 * definitions and queue facts (metadata), and reading each queue as its mode says: a mirror of a
 * classic or quorum queue ('snapshot'), a stream queue by offset ('log'), a drain in checkpoints
 * ('drain'). See docs/RABBITMQ.md for what each mode does to the queues.
 */
import { MqbakError, withContext } from '../../common/errors.js';
import type { AdapterContext, BrokerSource, ReadOutcome, ReadRequest, SourceSelection, SourceStream } from '../adapter.js';
import { parseAmqpUrl, type AmqpTarget } from './amqp-url.js';
import { connectRabbit, type RabbitConnection } from './connection.js';
import { exportDefinitions } from './definitions.js';
import { reportInvalidUtf8 } from './delivery.js';
import { QueueDrain } from './drain-read.js';
import { ManagementClient, type QueueInfo } from './management.js';
import { readMirror } from './mirror-read.js';
import type { BackupSettings } from './options.js';
import { queueAddress } from './address.js';
import { deliveryLimits, rabbitChainKey, refuseRiskyMirror, selectQueues, streamName } from './queue-selection.js';
import type { QueueReport, ReadContext } from './read-context.js';
import { queueDepth } from './consumer.js';
import { streamNextOffset } from './stream-probe.js';
import { readStreamQueue } from './stream-read.js';

/** One selected queue: what select saw, and what reading it has done so far. */
interface Selected {
  info: QueueInfo;
  depth: number;
  consumers: number;
  deliveryLimit: number | null;
  /** Stream queues: the offset the next message gets, at the cut (null: empty). */
  end: bigint | null;
  report: QueueReport;
  drain: QueueDrain | null;
}

export class RabbitSource implements BrokerSource {
  private readonly target: AmqpTarget;
  private readonly mgmt: ManagementClient;
  private conn: RabbitConnection | null = null;
  private selected = new Map<string, Selected>();
  private overview = { rabbitmqVersion: '', clusterName: '' };
  /** Mirrors' returns under way (ReadContext.returns). */
  private readonly returns: Promise<void>[] = [];

  constructor(
    private readonly url: string,
    private readonly settings: BackupSettings,
    private readonly ctx: AdapterContext,
  ) {
    this.target = parseAmqpUrl(url);
    const m = settings.management;
    this.mgmt = new ManagementClient({ baseUrl: m.url, user: m.user, password: m.password, signal: ctx.signal });
  }

  async select(): Promise<SourceSelection> {
    const { settings, mgmt, ctx } = this;
    const vhost = this.target.vhost;
    const warnings: string[] = [];
    ctx.progress.phase(`reading queues of vhost ${vhost} from ${mgmt.description}`);
    this.overview = await mgmt.overview();
    if (!(await mgmt.vhostExists(vhost))) throw new MqbakError('not-found', `vhost ${JSON.stringify(vhost)} does not exist on ${mgmt.description}`);
    const chosen = selectQueues(await mgmt.listQueues(vhost), vhost, settings, (m) => warnings.push(m));
    // refuse before touching anything
    const limits = deliveryLimits(chosen, await mgmt.policies(vhost), await mgmt.operatorPolicies(vhost), this.overview.rabbitmqVersion);
    if (settings.mode === 'mirror' && !settings.acceptRedeliveryRisk) refuseRiskyMirror(limits);

    this.conn ??= await connectRabbit(this.url, { signal: ctx.signal });
    await this.closeDrains();
    this.selected = new Map();
    const streams: SourceStream[] = [];
    for (const q of chosen) {
      const name = streamName(vhost, q.name);
      let depth = 0;
      let consumers = 0;
      let end: bigint | null = null;
      try {
        if (q.type === 'stream') end = await streamNextOffset(this.conn, q.name, ctx.signal);
        else ({ messages: depth, consumers } = await queueDepth(this.conn, q.name));
      } catch (e) {
        throw withContext(e, `queue ${q.name}`, 'unreachable');
      }
      const mode = q.type === 'stream' ? 'log' : settings.mode === 'drain' ? 'drain' : 'snapshot';
      const extra: Record<string, unknown> =
        mode === 'log' ? { mode: 'stream-offset' } : mode === 'drain' ? { mode: 'drain', depthAtStart: depth } : { mode: 'mirror', depthAtStart: depth, returnedToQueue: true };
      const report: QueueReport = {
        stream: name,
        queue: q.name,
        type: q.type,
        depthAtStart: depth,
        records: 0,
        redelivered: 0,
        returnedToQueue: false,
        acked: 0,
        mayDuplicatePrevious: false,
      };
      this.selected.set(name, { info: q, depth, consumers, deliveryLimit: limits.get(q.name) ?? null, end, report, drain: null });
      // a stream queue's offsets start at 0; what retention removed shows up as a gap when read
      streams.push({ name, address: queueAddress(vhost, q), mode, start: mode === 'log' ? 0n : null, end: mode === 'log' ? (end ?? 0n) : null, extra });
    }
    const queues = chosen.map((q) => q.name);
    const cluster = this.overview.clusterName || `${this.target.host}:${this.target.port}`;
    return {
      chainKey: rabbitChainKey(cluster, vhost, settings.mode, queues),
      options: {
        mode: settings.mode,
        vhost,
        queues,
        includeUsers: settings.includeUsers,
        acceptRedeliveryRisk: settings.acceptRedeliveryRisk,
        maxMessages: settings.maxMessages,
      },
      streams,
      warnings,
    };
  }

  async metadata(selection: SourceSelection): Promise<{ metadata: Record<string, unknown>; warnings: string[] }> {
    const vhost = this.target.vhost;
    this.ctx.progress.phase(`exporting definitions of vhost ${vhost}`);
    const definitions = await exportDefinitions(this.mgmt, vhost, { includeUsers: this.settings.includeUsers });
    const queues = selection.streams.map((s) => this.selected.get(s.name)).filter((s) => s !== undefined);
    const metadata = {
      rabbitmq: {
        cluster: this.overview.clusterName || `${this.target.host}:${this.target.port}`,
        rabbitmqVersion: this.overview.rabbitmqVersion,
        vhost,
        queues: queues.map(({ info: q, deliveryLimit }) => ({
          name: q.name,
          type: q.type,
          durable: q.durable,
          arguments: q.arguments,
          policy: q.policy,
          deliveryLimit,
        })),
      },
      rabbitmqDefinitions: definitions,
    };
    return { metadata, warnings: [] };
  }

  async read(requests: ReadRequest[], options: { signal: AbortSignal; limit?: number }): Promise<ReadOutcome> {
    const conn = this.conn;
    if (!conn) throw new MqbakError('internal', 'RabbitMQ source: read before select');
    if (requests.length > 1 && requests.some((r) => r.stream.mode === 'drain')) throw new MqbakError('internal', 'RabbitMQ source: a drain is read alone');
    const ctx: ReadContext = { conn, settings: this.settings, progress: this.ctx.progress, signal: options.signal, notes: { invalidUtf8: [] }, returns: this.returns };
    const to = new Map<string, bigint>();
    let outcome: ReadOutcome = { to };
    for (const { stream, from, out } of requests) {
      const s = this.selected.get(stream.name);
      if (!s) throw new MqbakError('internal', `RabbitMQ source: ${stream.name} was not selected`);
      try {
        if (stream.mode === 'log') {
          s.report.depthAtStart = s.end === null ? 0 : Math.max(0, Number(s.end - from));
          to.set(stream.name, await readStreamQueue(ctx, s.info.name, from, s.end, out, s.report));
        } else if (stream.mode === 'snapshot') {
          to.set(stream.name, await readMirror(ctx, s.info, s, from, out, s.report));
        } else {
          s.drain ??= new QueueDrain(this.settings, s.info, s, s.report);
          outcome = await s.drain.read(ctx, from, out, options.limit);
        }
      } catch (e) {
        throw withContext(e, `queue ${s.info.name}`, 'unreachable');
      }
      reportInvalidUtf8(ctx.notes, (m) => out.warn(m));
    }
    return outcome;
  }

  /** Per stream, what the backup did to its queue (summed over a drain's checkpoints), and a line for people. */
  report(): { streams: Record<string, Record<string, unknown>>; lines: string[] } {
    const streams: Record<string, Record<string, unknown>> = {};
    const lines: string[] = [];
    for (const { report: q } of this.selected.values()) {
      const { stream: _stream, ...facts } = q;
      streams[q.stream] = facts;
      let what: string;
      if (q.type === 'stream') what = `${q.records} records read by offset (nothing changed on the broker)`;
      else if (this.settings.mode === 'mirror') {
        what = `${q.records} of ${q.depthAtStart} messages copied${q.returnedToQueue ? ' and returned to the queue (RabbitMQ now marks them redelivered)' : ''}`;
      } else what = `${q.records} messages archived and acknowledged (removed from the queue)`;
      lines.push(`${q.queue} (${q.type}): ${what}${q.mayDuplicatePrevious ? '; some came redelivered and may duplicate an interrupted earlier run' : ''}`);
    }
    return { streams, lines };
  }

  private async closeDrains(): Promise<void> {
    for (const s of this.selected.values()) {
      const d = s.drain;
      s.drain = null;
      if (d) await d.close();
    }
  }

  async close(): Promise<void> {
    // unsettled drain deliveries go back to the queue with their channel
    await this.closeDrains();
    // a channel close never rejects (QueueConsumer.close); the messages are back once they settle
    await Promise.all(this.returns.splice(0));
    const conn = this.conn;
    this.conn = null;
    if (conn) await conn.close();
  }
}
