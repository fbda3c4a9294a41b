/**
 * The JetStream restore target: each target stream used as it is when it exists, otherwise
 * created from the saved config (under the new name, subjects renamed by --subject-map); one
 * writer per stream (stream-writer.ts); and with --definitions, once every stream is written,
 * the saved durable consumers recreated, each starting at the target sequence of the first
 * message it had not acknowledged, found through the offset runs.
 */
import type { AdapterContext, BrokerSink, JournalEntry, OffsetRun, PlannedTarget, SinkPlan, StreamWriter } from '../adapter.js';
import { MqbakError, messageOf } from '../../common/errors.js';
import { asNatsAddress } from './address.js';
import { connectNats, type NatsConnection } from './connection.js';
import { consumedThrough, restoreConsumer, restoreStream } from './definitions.js';
import type { NatsRestoreSettings } from './options.js';
import { plannedConsumers, savedStreamConfig, type PlannedConsumer } from './restore-plan.js';
import { translateSeq } from './seq-runs.js';
import { NatsStreamWriter } from './stream-writer.js';
import { describeStream } from './streams.js';

/** Streams restored at once: each has its own publisher and acknowledgement window. */
const STREAMS_IN_PARALLEL = 4;
/**
 * An interest stream drops a message no consumer is interested in as soon as it is stored: this
 * consumer holds the restored messages until the saved consumers exist (then it is deleted).
 */
export const HOLD_CONSUMER = 'mqbak-restore-hold';

export class NatsSink implements BrokerSink {
  readonly parallelism = STREAMS_IN_PARALLEL;
  private plan: SinkPlan | null = null;
  private readonly created: string[] = [];
  /** Interest streams holding HOLD_CONSUMER. */
  private readonly held: string[] = [];
  private readonly notes: string[] = [];

  private constructor(
    private readonly conn: NatsConnection,
    private readonly settings: NatsRestoreSettings,
    private readonly ctx: AdapterContext,
  ) {}

  static async open(url: string, settings: NatsRestoreSettings, ctx: AdapterContext): Promise<NatsSink> {
    return new NatsSink(await connectNats(url, { signal: ctx.signal, name: 'mqbak restore' }), settings, ctx);
  }

  async prepare(plan: SinkPlan, _journal: ReadonlyMap<string, JournalEntry> | null, _signal: AbortSignal): Promise<void> {
    this.plan = plan;
    // refused before anything is written: consumers asked for from a backup without any
    if (this.settings.definitions) plannedConsumers(plan);
    for (const t of plan.targets) {
      const name = asNatsAddress(t.target).stream;
      const retention = await this.ensureStream(plan, name, asNatsAddress(t.source).stream);
      if (retention === 'interest') {
        await this.conn.jsm.consumers.add(name, { durable_name: HOLD_CONSUMER, ack_policy: 'explicit' as never, deliver_policy: 'all' as never }).catch((e: unknown) => {
          throw new MqbakError('unreachable', `NATS ${this.conn.target.redacted}: stream ${name}: cannot add consumer ${HOLD_CONSUMER}: ${messageOf(e)}`, { cause: e });
        });
        this.held.push(name);
      }
    }
  }

  /** The target stream as it is, or created from the saved config; its retention. */
  private async ensureStream(plan: SinkPlan, name: string, source: string): Promise<string> {
    try {
      const existing = await describeStream(this.conn, name);
      if (existing.messages > 0) this.notes.push(`stream ${name} already held ${existing.messages} message(s): the restored ones follow them`);
      return existing.retention;
    } catch (e) {
      if (!(e instanceof MqbakError) || e.code !== 'not-found') throw e;
    }
    const saved = savedStreamConfig(plan, source);
    if (saved === null) {
      throw new MqbakError('not-found', `target stream ${name} does not exist and backup ${plan.backupId} holds no config of stream ${source}`, { hint: 'create the target stream first' });
    }
    this.ctx.progress.info(`creating stream ${name} from the saved config of ${source}`);
    const { stream } = await restoreStream(this.conn, saved, { name, renameSubject: this.settings.renameSubject });
    this.created.push(name);
    return stream.retention;
  }

  async openStream(target: PlannedTarget, saved: JournalEntry | null, signal: AbortSignal): Promise<StreamWriter> {
    const t = asNatsAddress(target.target).stream;
    this.ctx.progress.phase(`restoring ${target.records} messages of stream ${asNatsAddress(target.source).stream} into ${t}`);
    return await NatsStreamWriter.open(this.conn, target, saved, this.settings.renameSubject, this.notes, signal);
  }

  /** The durable consumers (--definitions), each at the first message it had not acknowledged. */
  async finish(runs: readonly OffsetRun[], _signal: AbortSignal): Promise<{ lines: string[]; json: Record<string, unknown> }> {
    const lines: string[] = [];
    if (this.created.length > 0) lines.push(`streams created: ${this.created.join(', ')}`);
    const consumers: Array<PlannedConsumer & { startSeq: string; created: boolean }> = [];
    if (this.settings.definitions && this.plan) {
      const planned = plannedConsumers(this.plan);
      for (const p of planned) {
        const mine = runs.filter((r) => r.stream === p.stream);
        const end = BigInt((await describeStream(this.conn, p.targetStream)).lastSeq + 1);
        const start = translateSeq(mine, BigInt(consumedThrough(p.saved)) + 1n, end);
        const { created } = await restoreConsumer(this.conn, p.targetStream, p.saved, { startSeq: Number(start), renameSubject: this.settings.renameSubject });
        consumers.push({ ...p, startSeq: start.toString(), created });
        lines.push(
          `consumer ${p.saved.name}: acknowledged through ${consumedThrough(p.saved)} on ${p.sourceStream} -> ${created ? `created on ${p.targetStream} starting at ${start}` : `already on ${p.targetStream}, left as it is`}`,
        );
      }
    }
    for (const name of this.held) {
      if (this.settings.definitions) {
        // the saved consumers now hold what they had not acknowledged; the rest goes, as on the source
        await this.conn.jsm.consumers.delete(name, HOLD_CONSUMER).catch(() => undefined);
      } else {
        this.notes.push(`stream ${name} has interest retention: consumer ${HOLD_CONSUMER} keeps the restored messages; delete it once your consumers exist (or restore with --definitions)`);
      }
    }
    return {
      lines,
      json: {
        streamsCreated: this.created,
        consumers: consumers.map((c) => ({ name: c.saved.name, stream: c.sourceStream, targetStream: c.targetStream, ackFloor: consumedThrough(c.saved), startSeq: c.startSeq, created: c.created })),
      },
    };
  }

  warnings(): string[] {
    return [...this.notes];
  }

  async close(): Promise<void> {
    await this.conn.close();
  }
}
