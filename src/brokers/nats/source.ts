/**
 * The JetStream backup source: the streams chosen by --streams / --all-streams, each with its
 * cut (the last sequence when the backup starts), stream configs and durable consumers as of the
 * cut, and the reads: limits and interest streams by sequence with an ephemeral ordered consumer
 * that changes nothing ('log'), work-queue streams drained in checkpoints ('drain').
 */
import type { AdapterContext, BrokerSource, ReadOutcome, ReadRequest, SourceSelection, SourceStream } from '../adapter.js';
import { MqbakError, messageOf } from '../../common/errors.js';
import { asNatsAddress, natsAddress, streamName } from './address.js';
import { connectNats, type NatsConnection } from './connection.js';
import { saveConsumers, type SavedConsumer } from './definitions.js';
import { StreamDrain } from './drain-read.js';
import type { NatsBackupSettings } from './options.js';
import { readStreamColumns } from './stream-reader.js';
import { describeStream, listStreams, type StreamSummary } from './streams.js';

/** Consumers mqbak makes itself (the drain's): never saved, never restored. */
export const OWN_CONSUMER_PREFIX = 'mqbak-';

export class NatsSource implements BrokerSource {
  private summaries = new Map<string, StreamSummary>();
  private readonly drains = new Map<string, StreamDrain>();

  private constructor(
    private readonly conn: NatsConnection,
    private readonly settings: NatsBackupSettings,
    private readonly ctx: AdapterContext,
  ) {}

  static async open(url: string, settings: NatsBackupSettings, ctx: AdapterContext): Promise<NatsSource> {
    const conn = await connectNats(url, { signal: ctx.signal, name: 'mqbak backup' });
    return new NatsSource(conn, settings, ctx);
  }

  /**
   * The streams and their cut. A work-queue stream is read by removing its messages: it needs
   * --mode drain, which reads nothing else (a drain's checkpoints are backups of their own, so a
   * run and its chain hold either drained streams or logged ones).
   */
  async select(): Promise<SourceSelection> {
    const { settings } = this;
    const names = settings.allStreams ? await listStreams(this.conn) : settings.streams;
    const warnings: string[] = [];
    const streams: SourceStream[] = [];
    const summaries = new Map<string, StreamSummary>();
    const drain = settings.mode === 'drain';
    for (const name of names) {
      const s = await describeStream(this.conn, name);
      const workQueue = s.retention === 'workqueue';
      if (workQueue !== drain) {
        const why = workQueue
          ? `stream ${name} is a work queue: reading it removes its messages`
          : `stream ${name} has ${s.retention} retention: --mode drain is for work-queue streams`;
        if (!settings.allStreams) {
          throw new MqbakError('usage', why, {
            hint: workQueue ? 'back it up with --mode drain (each message is acknowledged once the backup holding it is stored)' : 'back it up in a run without --mode drain',
          });
        }
        warnings.push(`${why}: skipped (${workQueue ? 'back up work queues with --mode drain' : 'run without --mode drain for it'})`);
        continue;
      }
      summaries.set(name, s);
      streams.push({
        name: streamName(name),
        address: natsAddress(name),
        mode: drain ? 'drain' : 'log',
        start: BigInt(s.firstSeq),
        end: BigInt(s.lastSeq + 1),
        extra: { retention: s.retention, messagesAtStart: s.messages },
      });
    }
    if (streams.length === 0) {
      throw new MqbakError('not-found', `no stream to back up on ${this.conn.target.redacted}`, { hint: drain ? 'drain reads work-queue streams only' : 'check --streams / --all-streams' });
    }
    this.summaries = summaries;
    const server = this.conn.nc.info?.cluster ?? this.conn.target.servers.join(',');
    return {
      chainKey: `nats:${server}:${settings.mode}:${[...summaries.keys()].sort().join(',')}`,
      options: { mode: settings.mode, end: 'last stream sequence noted at start' },
      streams,
      warnings,
    };
  }

  /** Stream configs and durable consumers (ack floor, delivered) before anything is read. */
  async metadata(selection: SourceSelection): Promise<{ metadata: Record<string, unknown>; warnings: string[] }> {
    const streams: Record<string, unknown> = {};
    const consumers: Record<string, SavedConsumer[]> = {};
    const warnings: string[] = [];
    for (const st of selection.streams) {
      const name = asNatsAddress(st.address).stream;
      const s = this.summaries.get(name) ?? (await describeStream(this.conn, name));
      streams[name] = s.config;
      try {
        consumers[name] = (await saveConsumers(this.conn, name)).filter((c) => !c.name.startsWith(OWN_CONSUMER_PREFIX));
      } catch (e) {
        if (e instanceof MqbakError && e.code === 'interrupted') throw e;
        warnings.push(`durable consumers of stream ${name}: unavailable (${messageOf(e)})`);
      }
    }
    return { metadata: { streams, consumers }, warnings };
  }

  async read(requests: ReadRequest[], options: { signal: AbortSignal; limit?: number }): Promise<ReadOutcome> {
    const drain = requests.find((r) => r.stream.mode === 'drain');
    if (drain) {
      if (requests.length > 1) throw new MqbakError('internal', 'NATS source: a drain request comes alone');
      let d = this.drains.get(drain.stream.name);
      if (!d) {
        d = new StreamDrain(this.conn, drain.stream, this.settings.checkpoint);
        this.drains.set(drain.stream.name, d);
        this.ctx.progress.phase(`draining work-queue stream ${asNatsAddress(drain.stream.address).stream}`);
      }
      return await d.read(drain.from, drain.out, options.limit, options.signal);
    }
    const to = new Map<string, bigint>();
    let total = 0;
    await Promise.all(
      requests.map(async (r) => {
        const stream = asNatsAddress(r.stream.address).stream;
        const end = r.stream.end ?? r.from;
        // sequences start at 1: a position 0 (an empty parent's `to`) holds nothing
        const from = r.from < 1n ? 1n : r.from;
        to.set(r.stream.name, end > r.from ? end : r.from);
        if (end <= from) return;
        for await (const b of readStreamColumns(this.conn, stream, { from: Number(from), to: Number(end - 1n), signal: options.signal })) {
          for (const g of b.gaps) r.out.addGap(BigInt(g.from), BigInt(g.to) + 1n, 'deleted');
          if (b.columns.count > 0) {
            await r.out.appendColumns(b.columns);
            total += b.columns.count;
            this.ctx.progress.update({ stream, records: total });
          }
        }
      }),
    );
    return { to };
  }

  report(): { lines: string[]; streams: Record<string, Record<string, unknown>> } {
    const streams: Record<string, Record<string, unknown>> = {};
    for (const [name, d] of this.drains) if (d.report.alreadyArchived > 0) streams[name] = { alreadyArchived: d.report.alreadyArchived };
    return { lines: [], streams };
  }

  async close(): Promise<void> {
    for (const d of this.drains.values()) await d.close().catch(() => undefined);
    this.drains.clear();
    await this.conn.close();
  }
}
