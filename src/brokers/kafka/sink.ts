/**
 * The Kafka restore target: target topics created as the backup had them, non-empty partitions
 * refused unless allowed, active consumer groups refused before anything is written, one writer
 * per partition (stream-writer.ts), and the groups' committed offsets translated through the
 * offset runs once every partition is written. With --repartition each source partition is
 * spread by key over the target's partitions instead (fanout-writer.ts, repartition.ts).
 */
import type { AdapterContext, AdapterOptionValues, BrokerSink, JournalEntry, OffsetRun, PlannedTarget, SinkPlan } from '../adapter.js';
import { MqbakError, messageOf } from '../../common/errors.js';
import { asKafkaAddress } from './address.js';
import { KafkaAdmin } from './admin.js';
import { connectionFrom, producerKind, repartitionOf, type KafkaProducerKind } from './options.js';
import { KafkaProducer } from './producer.js';
import { planGroups, targetTopics, translateCommitted, type GroupPlan } from './restore-plan.js';
import { KafkaStreamWriter, type WriterIdentity } from './stream-writer.js';
import { FanoutWriter, lanesOf, type LaneStart } from './fanout-writer.js';
import { refuseOtherJournal, resumeBounds, targetCounts } from './repartition.js';

/**
 * Partitions restored at once with the batch producer: their requests share the connection, so
 * one partition's batch is on the wire while the next is encoded. Each holds a segment in memory.
 * (On the local test broker, 1,000,000 records over 3 partitions: 3 took 7.4-7.8 s against
 * 7.9-8.9 s for 2, and about 40 MB more.) kafkajs' producer sends one partition at a time.
 */
const PARTITIONS_IN_PARALLEL = 3;

const keyOf = (topic: string, partition: number) => `${topic}/${partition}`;

export class KafkaSink implements BrokerSink {
  private producer: KafkaProducer | null = null;
  /** Each target partition's end offset when prepare() looked, by topic/partition. */
  private readonly ends = new Map<string, bigint>();
  private groups: GroupPlan[] = [];
  /** restore --repartition: null without it. */
  private readonly repartition: { partitions: number | null } | null;
  /** With --repartition: each target topic's partition count, and the streams an interrupted run wrote. */
  private readonly counts = new Map<string, number>();
  private bounds = new Map<string, bigint[]>();

  private constructor(
    private readonly admin: KafkaAdmin,
    private readonly options: AdapterOptionValues,
    private readonly ctx: AdapterContext,
    private readonly producerKind: KafkaProducerKind,
  ) {
    this.repartition = repartitionOf(options);
  }

  static async open(url: string, options: AdapterOptionValues, ctx: AdapterContext): Promise<KafkaSink> {
    const env = ctx.env;
    const kind = producerKind(env);
    const admin = await KafkaAdmin.connect(await connectionFrom(url, options, env, ctx));
    return new KafkaSink(admin, options, ctx, kind);
  }

  /** Known once prepare() connected the producer: mqbak's pipelines partitions, kafkajs' does not. */
  get parallelism(): number {
    // repartitioned: every source partition writes to every target one, one source after another
    return this.producer?.kind === 'kafkajs' || this.repartition ? 1 : PARTITIONS_IN_PARALLEL;
  }

  async prepare(plan: SinkPlan, journal: ReadonlyMap<string, JournalEntry> | null, _signal: AbortSignal): Promise<void> {
    refuseOtherJournal(journal, this.repartition !== null);
    if (this.repartition) return this.prepareRepartitioned(plan, journal);
    const topics = targetTopics(plan);
    this.groups = planGroups(plan, this.options);
    for (const g of new Set(this.groups.map((x) => x.group))) await this.refuseActive(g);

    const existing = new Set(await this.admin.listTopics());
    for (const [t, info] of Object.entries(topics)) {
      if (existing.has(t)) continue;
      this.ctx.progress.info(`creating topic ${t} with ${info.partitions} partitions`);
      await this.admin.createTopic(t, info.partitions, info.replicationFactor, info.configs ?? {});
    }
    for (const t of Object.keys(topics)) for (const [p, m] of await this.admin.watermarks(t)) this.ends.set(keyOf(t, p), m.high);
    for (const target of plan.targets) {
      const { topic, partition } = asKafkaAddress(target.target);
      const end = this.ends.get(keyOf(topic, partition));
      if (end === undefined) throw new MqbakError('usage', `target ${topic} has no partition ${partition}`, { hint: 'the target topic has fewer partitions than the backed-up one' });
      // a partition this restore wrote to before holds its own records: the journal accounts for them
      if (end > 0n && !journal?.has(target.name) && !this.options.allowNonempty) {
        throw new MqbakError('usage', `target partition ${topic}[${partition}] already holds data (end offset ${end})`, {
          hint: 'restore under another name with --map, or pass --allow-nonempty',
        });
      }
    }
    this.producer = await KafkaProducer.connect(this.admin, this.producerKind, (m) => this.ctx.progress.info(m));
  }

  /**
   * --repartition: partition counts checked (or topics created) before anything is written, every
   * partition of a target refused when it holds data (unless allowed or resumed), and what an
   * interrupted run wrote worked out from its journal. No groups: refused by checkRestore.
   */
  private async prepareRepartitioned(plan: SinkPlan, journal: ReadonlyMap<string, JournalEntry> | null): Promise<void> {
    const topics = targetTopics(plan, this.repartition);
    for (const [t, n] of await targetCounts(this.admin, topics, this.repartition!.partitions, (m) => this.ctx.progress.info(m))) this.counts.set(t, n);
    for (const t of Object.keys(topics)) for (const [p, m] of await this.admin.watermarks(t)) this.ends.set(keyOf(t, p), m.high);
    this.bounds = resumeBounds(plan, journal, this.counts, (t, p) => this.ends.get(keyOf(t, p)) ?? 0n);
    for (const t of Object.keys(topics)) {
      const resumed = plan.targets.some((x) => asKafkaAddress(x.target).topic === t && journal?.has(x.name));
      if (resumed || this.options.allowNonempty) continue;
      for (let p = 0; p < this.counts.get(t)!; p++) {
        const end = this.ends.get(keyOf(t, p)) ?? 0n;
        if (end > 0n) throw new MqbakError('usage', `target partition ${t}[${p}] already holds data (end offset ${end})`, { hint: 'restore under another name with --map, or pass --allow-nonempty' });
      }
    }
    this.producer = await KafkaProducer.connect(this.admin, this.producerKind, (m) => this.ctx.progress.info(m));
  }

  /** A repartitioned stream's writer: lanes from its journal entry (resumed) or from where the targets end now. */
  private openFanout(producer: KafkaProducer, target: PlannedTarget, saved: JournalEntry | null): FanoutWriter {
    const topic = asKafkaAddress(target.target).topic;
    const n = this.counts.get(topic)!;
    let lanes: LaneStart[];
    if (saved !== null) {
      const bound = this.bounds.get(target.name)!;
      const adopts = producer.position(topic, 0) !== null;
      lanes = lanesOf(target.name, saved).map((l, p) => {
        const already = bound[p]! - l.initialEnd;
        if (already >= 0n) return { ...l, already };
        // a high watermark lagging behind what this stream's start saw acknowledged: none counted,
        // its batches sent again as the same producer are acknowledged where they lie
        if (adopts && l.identity) return { ...l, already: 0n };
        throw new MqbakError('integrity', `target ${topic}/${p} ends at ${bound[p]}, before ${l.initialEnd} where this restore started writing ${target.name} (records deleted?)`);
      });
    } else {
      lanes = Array.from({ length: n }, (_, p) => {
        const at = producer.position(topic, p);
        const identity = at && { producerId: at.producerId, producerEpoch: at.producerEpoch, sequenceStart: at.nextSequence };
        return { partition: p, initialEnd: this.ends.get(keyOf(topic, p)) ?? 0n, identity, already: 0n };
      });
    }
    // the next stream of the topic starts where this one ended
    return new FanoutWriter(producer, target, lanes, (ends) => {
      for (const [p, end] of ends) this.ends.set(keyOf(topic, p), end);
    });
  }

  /** Moving the offsets of a group whose consumers run would fight them: refused. */
  private async refuseActive(group: string): Promise<void> {
    let st: { state: string; members: number };
    try {
      st = await this.admin.groupState(group);
    } catch (e) {
      throw new MqbakError('unreachable', `describe group ${group} on the target: ${messageOf(e)}`);
    }
    if (st.members > 0 || !['Empty', 'Dead'].includes(st.state)) {
      throw new MqbakError('usage', `group ${group} has active members on the target (state ${st.state}): refusing to move its offsets`, { hint: 'stop its consumers first' });
    }
  }

  /**
   * `saved` {initialEnd, producerId, producerEpoch, sequenceStart}: where the partition ended
   * before an interrupted run of this restore wrote, and the producer it wrote as.
   */
  async openStream(target: PlannedTarget, saved: JournalEntry | null, _signal: AbortSignal): Promise<KafkaStreamWriter | FanoutWriter> {
    if (!this.producer) throw new MqbakError('internal', 'Kafka sink: openStream() before prepare()');
    if (this.repartition) return this.openFanout(this.producer, target, saved);
    const { topic, partition } = asKafkaAddress(target.target);
    const current = this.ends.get(keyOf(topic, partition)) ?? 0n;
    let initial = current;
    let identity: WriterIdentity | null = null;
    if (saved !== null) {
      const bad = () =>
        new MqbakError('usage', `restore journal: entry of ${target.name} is not {initialEnd, producerId, producerEpoch, sequenceStart}`, { hint: 'delete the journal to start the restore over' });
      const v = saved.initialEnd;
      if (typeof v !== 'string' || !/^\d+$/.test(v)) throw bad();
      initial = BigInt(v);
      const { producerId, producerEpoch, sequenceStart } = saved;
      if (producerId !== undefined) {
        if (typeof producerId !== 'string' || !/^\d+$/.test(producerId) || !Number.isInteger(producerEpoch) || typeof sequenceStart !== 'string' || !/^\d+$/.test(sequenceStart)) throw bad();
        identity = { producerId: BigInt(producerId), producerEpoch: producerEpoch as number, sequenceStart: BigInt(sequenceStart) };
      }
    }
    return new KafkaStreamWriter(this.producer, target, initial, current, identity);
  }

  /** Commits each group's translated offsets (a committed offset maps to the first restored record at or after it). */
  async finish(runs: readonly OffsetRun[], _signal: AbortSignal): Promise<{ lines: string[]; json: Record<string, unknown> }> {
    const byPartition = new Map<string, OffsetRun[]>();
    // records per target topic, those an interrupted run wrote included
    const perTopic: Record<string, number> = {};
    for (const r of runs) {
      const t = asKafkaAddress(r.target);
      const k = keyOf(t.topic, t.partition);
      // a compacted partition may have a run per record: appended, never copied
      const list = byPartition.get(k);
      if (list) list.push(r);
      else byPartition.set(k, [r]);
      perTopic[t.topic] = (perTopic[t.topic] ?? 0) + Number(r.sourceEnd - r.sourceStart + 1n);
    }
    if (this.groups.length === 0) return { lines: [], json: { topics: perTopic, groups: [] } };
    const finalEnds = new Map<string, bigint>();
    for (const t of new Set(this.groups.map((g) => g.targetTopic))) for (const [p, m] of await this.admin.watermarks(t)) finalEnds.set(keyOf(t, p), m.high);
    for (const g of this.groups) {
      const k = keyOf(g.targetTopic, g.partition);
      g.target = translateCommitted(byPartition.get(k) ?? [], BigInt(g.committed), finalEnds.get(k) ?? 0n).toString();
    }
    const byGroupTopic = new Map<string, GroupPlan[]>();
    for (const g of this.groups) {
      const key = `${g.group}\u0000${g.targetTopic}`;
      byGroupTopic.set(key, [...(byGroupTopic.get(key) ?? []), g]);
    }
    for (const list of byGroupTopic.values()) {
      const first = list[0]!;
      this.ctx.progress.info(`group ${first.group}: committing ${first.targetTopic}`);
      await this.admin.setGroupOffsets(first.group, first.targetTopic, list.map((g) => ({ partition: g.partition, offset: BigInt(g.target!) })));
    }
    return {
      lines: this.groups.map((g) => `group ${g.group}: ${g.targetTopic}[${g.partition}] committed ${g.committed} -> ${g.target}`),
      json: { topics: perTopic, groups: this.groups },
    };
  }

  /** Kafka keeps every record as it was: nothing to warn about. */
  warnings(): string[] {
    return [];
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
    await this.admin.disconnect();
  }
}
