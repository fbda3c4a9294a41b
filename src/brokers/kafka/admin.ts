/**
 * The Kafka admin calls mqbak makes (cluster id, topics, partitions, watermarks, configs, consumer
 * groups, topic creation), on one connected kafkajs admin client.
 */
import type { Admin, Kafka } from 'kafkajs';
import { MqbakError, messageOf, withContext } from '../../common/errors.js';
import { createKafka, unreachable, untilAborted, type KafkaConnection } from './client.js';
import { raceAbort } from '../../common/abort.js';
import { KafkaFetcher } from './fetcher.js';
import { InternalsMissing, openCluster, type Internals } from './internals.js';
import { retried } from './retry.js';

export interface PartitionInfo {
  partition: number;
  replicationFactor: number;
}
export interface Watermarks {
  low: bigint;
  high: bigint;
}

/** A connected admin client with the calls mqbak makes. */
export class KafkaAdmin {
  private clusterOpen: Promise<Internals | InternalsMissing> | null = null;
  private fetcherOpen: Promise<KafkaFetcher | InternalsMissing> | null = null;

  private constructor(
    readonly kafka: Kafka,
    readonly admin: Admin,
    private readonly c: KafkaConnection,
  ) {}

  static async connect(c: KafkaConnection): Promise<KafkaAdmin> {
    const kafka = await createKafka(c);
    const admin = untilAborted(kafka.admin(), c.signal);
    try {
      await admin.connect();
    } catch (e) {
      throw unreachable(e, `connect to Kafka ${c.brokers.join(',')}`);
    }
    return new KafkaAdmin(kafka, admin, c);
  }

  /** The run's signal: the clients made from this one give way to it too. */
  get signal(): AbortSignal | undefined {
    return this.c.signal;
  }

  async clusterId(): Promise<string> {
    const d = await retried('describe the cluster', () => this.admin.describeCluster(), undefined, this.c.signal);
    return d.clusterId ?? 'unknown';
  }

  async listTopics(): Promise<string[]> {
    return (await retried('list topics', () => this.admin.listTopics(), undefined, this.c.signal)).filter((t) => !t.startsWith('__')).sort();
  }

  /** Partitions of each topic; a missing topic is 'not-found'. */
  async partitions(topic: string): Promise<PartitionInfo[]> {
    try {
      const md = await retried(`metadata of ${topic}`, () => this.admin.fetchTopicMetadata({ topics: [topic] }), undefined, this.c.signal);
      const t = md.topics[0];
      if (!t) throw new MqbakError('not-found', `topic ${topic} not found`);
      return t.partitions.map((p) => ({ partition: p.partitionId, replicationFactor: p.replicas.length })).sort((a, b) => a.partition - b.partition);
    } catch (e) {
      if (e instanceof MqbakError) throw e;
      const m = messageOf(e);
      if (/does not host this topic-partition|UNKNOWN_TOPIC/i.test(m)) throw new MqbakError('not-found', `topic ${topic} not found on the broker`);
      throw unreachable(e, `metadata of ${topic}`);
    }
  }

  /**
   * Low and high end per partition. kafkajs fetchTopicOffsets sends ListOffsets (v2 and later)
   * with its default isolation level, READ_COMMITTED (kafkajs src/protocol/requests/listOffsets/
   * index.js): `high` is the last stable offset, which equals the high watermark unless a
   * transaction is open on the partition. kafkajs gives up at the first NOT_LEADER_OR_FOLLOWER
   * (a leader moving): retried here.
   */
  async watermarks(topic: string): Promise<Map<number, Watermarks>> {
    const out = new Map<number, Watermarks>();
    for (const p of await retried(`list offsets of ${topic}`, () => this.admin.fetchTopicOffsets(topic), undefined, this.c.signal)) out.set(p.partition, { low: BigInt(p.low), high: BigInt(p.high) });
    return out;
  }

  /** Topic configs set on the broker (non-default), or null when the broker refuses DescribeConfigs. */
  async topicConfigs(topic: string): Promise<Record<string, string> | null> {
    try {
      const { default: kafkajs } = await import('kafkajs');
      const r = await this.admin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic }], includeSynonyms: false });
      const out: Record<string, string> = {};
      for (const res of r.resources) {
        for (const e of res.configEntries) if (!e.isDefault && e.configValue !== null && !e.isSensitive) out[e.configName] = e.configValue;
      }
      return out;
    } catch (e) {
      this.c.progress.info(`describeConfigs ${topic}: ${messageOf(e)} (configs unavailable)`);
      return null;
    }
  }

  /** All group ids the broker lists, or null when it does not answer ListGroups. */
  async listGroups(): Promise<string[] | null> {
    try {
      return (await this.admin.listGroups()).groups.map((g) => g.groupId).sort();
    } catch (e) {
      this.c.progress.info(`listGroups: ${messageOf(e)}`);
      return null;
    }
  }

  /** Committed offsets of a group on these topics (only partitions with a commit). */
  async groupOffsets(groupId: string, topics: string[]): Promise<Record<string, Record<string, string>>> {
    const out: Record<string, Record<string, string>> = {};
    const r = await this.admin.fetchOffsets({ groupId, topics });
    for (const t of r) {
      for (const p of t.partitions) {
        if (p.offset === '-1') continue;
        (out[t.topic] ??= {})[String(p.partition)] = p.offset;
      }
    }
    return out;
  }

  async groupState(groupId: string): Promise<{ state: string; members: number }> {
    const r = await this.admin.describeGroups([groupId]);
    const g = r.groups[0];
    return { state: g?.state ?? 'Dead', members: g?.members.length ?? 0 };
  }

  async setGroupOffsets(groupId: string, topic: string, partitions: Array<{ partition: number; offset: bigint }>): Promise<void> {
    await this.admin.setOffsets({ groupId, topic, partitions: partitions.map((p) => ({ partition: p.partition, offset: p.offset.toString() })) });
  }

  async deleteGroup(groupId: string): Promise<void> {
    try {
      await this.admin.deleteGroups([groupId]);
    } catch (e) {
      // the stock mock has no DeleteGroups: a leftover empty throwaway group is harmless
      this.c.progress.info(`could not delete throwaway group ${groupId}: ${messageOf(e)}`);
    }
  }

  async createTopic(topic: string, partitions: number, replicationFactor: number, configs: Record<string, string>): Promise<void> {
    try {
      await this.admin.createTopics({
        waitForLeaders: true,
        topics: [{ topic, numPartitions: partitions, replicationFactor, configEntries: Object.entries(configs).map(([name, value]) => ({ name, value })) }],
      });
    } catch (e) {
      throw withContext(e, `create topic ${topic} (${partitions} partitions)`, 'unreachable');
    }
  }

  /** kafkajs' internals for mqbak's own requests (internals.ts), opened once. */
  internals(): Promise<Internals | InternalsMissing> {
    this.clusterOpen ??= raceAbort(openCluster(this.kafka), this.c.signal);
    return this.clusterOpen;
  }

  /** mqbak's own Fetch reader, opened once (InternalsMissing when this kafkajs or broker does not allow it). */
  fetcher(): Promise<KafkaFetcher | InternalsMissing> {
    this.fetcherOpen ??= this.internals().then((k) => (k instanceof InternalsMissing ? k : KafkaFetcher.open(k)));
    return this.fetcherOpen;
  }

  async disconnect(): Promise<void> {
    const k = await this.clusterOpen?.catch(() => null);
    if (k && !(k instanceof InternalsMissing)) await k.cluster.disconnect().catch(() => {});
    await this.admin.disconnect().catch(() => {});
  }
}
