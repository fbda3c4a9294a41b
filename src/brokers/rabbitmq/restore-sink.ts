/**
 * The RabbitMQ BrokerSink: before anything is published, the target vhost must exist, the saved
 * definitions are recreated when asked (--definitions), and every target queue must exist
 * (unless --via-exchange routes through the original exchanges); then each archived queue is
 * republished into its target (queue-writer.ts), one queue at a time on one connection.
 */
import { MqbakError, messageOf } from '../../common/errors.js';
import type { AdapterContext, BrokerSink, JournalEntry, OffsetRun, PlannedTarget, SinkPlan, StreamWriter } from '../adapter.js';
import { parseAmqpUrl, type AmqpTarget } from './amqp-url.js';
import { connectRabbit, publishExtrasSupported, type RabbitConnection } from './connection.js';
import { applyDefinitions, type ApplyReport, type SavedDefinitions } from './definitions.js';
import { ManagementClient } from './management.js';
import type { RestoreSettings } from './options.js';
import { addressOf } from './address.js';
import { QueueWriter } from './queue-writer.js';
import { newRepublishCounts } from './republish.js';
import { queueDepth } from './consumer.js';
import { StreamTargetOffsets } from './stream-target-offsets.js';

export class RabbitSink implements BrokerSink {
  readonly parallelism = 1;
  private readonly target: AmqpTarget;
  private readonly mgmt: ManagementClient;
  private conn: RabbitConnection | null = null;
  private definitions: ApplyReport | null = null;
  /** Target queue types the management API reported (null: unknown, e.g. via exchange). */
  private readonly targetTypes = new Map<string, string | null>();
  private readonly counts = newRepublishCounts();
  private readonly notes: string[] = [];

  private constructor(
    private readonly url: string,
    private readonly settings: RestoreSettings,
    private readonly ctx: AdapterContext,
  ) {
    this.target = parseAmqpUrl(url);
    const m = settings.management;
    this.mgmt = new ManagementClient({ baseUrl: m.url, user: m.user, password: m.password, signal: ctx.signal });
  }

  /**
   * The vhost checked and the connection open, creating nothing (the core opens the sink while
   * its preflight reads the archive). Both at once; the vhost check's error, when it has one, is
   * the one reported (a connection to a vhost that is not there fails less clearly), without
   * waiting for the connection, closed whenever it opens.
   */
  static async open(url: string, settings: RestoreSettings, ctx: AdapterContext): Promise<RabbitSink> {
    const sink = new RabbitSink(url, settings, ctx);
    const connecting = sink.connect();
    connecting.catch(() => {}); // awaited below, after the vhost check
    try {
      await sink.checkVhost(sink.target.vhost);
    } catch (e) {
      void connecting.then(() => sink.close(), () => {});
      throw e;
    }
    await connecting;
    return sink;
  }

  /** The core shows and keeps them (warnings()). */
  private warn(m: string): void {
    this.notes.push(m);
  }

  async prepare(plan: SinkPlan, _journal: ReadonlyMap<string, JournalEntry> | null, _signal: AbortSignal): Promise<void> {
    const vhost = this.target.vhost;
    const into = new Map<string, string>();
    for (const t of plan.targets) {
      const from = addressOf(t.source).queue;
      const to = addressOf(t.target).queue;
      const other = into.get(to);
      if (other !== undefined && other !== from) throw new MqbakError('usage', `queues ${other} and ${from} would both be restored into ${to}`);
      into.set(to, from);
    }
    if (this.settings.definitions) {
      const defs = plan.metadata.rabbitmqDefinitions as SavedDefinitions | undefined;
      if (!defs) throw new MqbakError('not-found', `backup ${plan.backupId} holds no RabbitMQ definitions`);
      this.ctx.progress.phase(`recreating definitions on vhost ${vhost}`);
      const rename = (q: string) => plan.renames[q] ?? q;
      const queues = new Set(plan.targets.map((t) => addressOf(t.source).queue));
      this.definitions = await applyDefinitions(this.mgmt, vhost, defs, rename, { queues });
      for (const c of this.definitions.conflicts) this.warn(c);
      for (const n of this.definitions.notes) this.warn(n);
    }
    const conn = await this.connect();
    if (this.settings.viaExchange) return;
    for (const t of plan.targets) {
      const queue = addressOf(t.target).queue;
      try {
        await queueDepth(conn, queue);
      } catch (e) {
        if (e instanceof MqbakError && e.code === 'not-found') {
          throw new MqbakError('not-found', `target queue ${queue} does not exist`, { hint: 'create it, or pass --definitions to recreate the saved queues' });
        }
        throw e;
      }
      try {
        this.targetTypes.set(queue, (await this.mgmt.getQueue(vhost, queue))?.type ?? null);
      } catch (e) {
        if (e instanceof MqbakError && e.code === 'interrupted') throw e;
        // restoring messages does not need the management API; only the offset map does
        this.warn(`queue ${queue}: could not ask the management API for its type (${messageOf(e)}): no offset map if it is a stream`);
        this.targetTypes.set(queue, null);
      }
    }
  }

  /**
   * The target vhost must exist: said by name (exit 10), rather than as the AMQP connection's
   * close text. A management API that cannot answer does not stop a restore that needs no
   * definitions: the AMQP connection then says it.
   */
  private async checkVhost(vhost: string): Promise<void> {
    let exists: boolean;
    try {
      exists = await this.mgmt.vhostExists(vhost);
    } catch (e) {
      if (this.settings.definitions || !(e instanceof MqbakError) || e.code !== 'unreachable') throw e;
      return;
    }
    if (!exists) {
      throw new MqbakError('not-found', `vhost ${JSON.stringify(vhost)} does not exist on the target`, {
        hint: 'create it first (rabbitmqctl add_vhost) and give the user permissions on it',
      });
    }
  }

  private async connect(): Promise<RabbitConnection> {
    if (this.conn) return this.conn;
    // a vhost RabbitMQ refuses to open is 'not-found' there, named (connection.ts)
    this.conn = await connectRabbit(this.url, { signal: this.ctx.signal });
    return this.conn;
  }

  async openStream(target: PlannedTarget, saved: JournalEntry | null, signal: AbortSignal): Promise<StreamWriter> {
    const conn = await this.connect();
    const queue = addressOf(target.target).queue;
    const streamTarget = this.targetTypes.get(queue) === 'stream';
    const records = target.records;
    this.ctx.progress.phase(`restoring ${records} messages of ${addressOf(target.source).queue} into ${queue}`);
    return await QueueWriter.open(
      {
        conn,
        target: { ...target, target: { ...target.target, vhost: this.target.vhost, queueType: this.targetTypes.get(queue) ?? addressOf(target.target).queueType } },
        rules: {
          user: this.target.user,
          targetQueue: queue,
          viaExchange: this.settings.viaExchange,
          streamTarget,
          extrasSupported: publishExtrasSupported(conn.model),
        },
        window: this.settings.window,
        offsets: streamTarget ? await StreamTargetOffsets.open(conn, queue, signal) : null,
        counts: this.counts,
        warn: (m) => this.warn(m),
        signal,
        debug: this.ctx.debug ? (m) => this.ctx.progress.info(m) : undefined,
      },
      saved,
    );
  }

  async finish(_runs: readonly OffsetRun[], _signal: AbortSignal): Promise<{ lines: string[]; json: Record<string, unknown> }> {
    const lines: string[] = [];
    const d = this.definitions;
    if (d) {
      lines.push(`definitions: ${d.created.length} created, ${d.unchanged.length} already there, ${d.conflicts.length} differing (left unchanged)`);
      for (const c of d.conflicts) lines.push(`  ${c}`);
    }
    const { userIdDropped, headersRenamed, routingHeadersRenamed } = this.counts;
    if (userIdDropped > 0) {
      this.warn(`${userIdDropped} message(s) had a user-id other than ${this.target.user}: RabbitMQ refuses those, so the property was left out`);
    }
    if (headersRenamed > 0) {
      this.warn(`${headersRenamed} message(s) carried broker-owned headers (x-death, x-delivery-count, ...): republished as x-mqbak-original-*`);
    }
    if (routingHeadersRenamed > 0) {
      this.warn(
        `${routingHeadersRenamed} message(s) carried CC or BCC headers, which would have made RabbitMQ deliver copies to the queues they name: republished as x-mqbak-original-cc / x-mqbak-original-bcc (--via-exchange keeps them and their routing)`,
      );
    }
    return { lines, json: { definitions: d, userIdDropped, headersRenamed, routingHeadersRenamed } };
  }

  warnings(): string[] {
    return [...this.notes];
  }

  async close(): Promise<void> {
    const conn = this.conn;
    this.conn = null;
    if (conn) await conn.close();
  }
}
