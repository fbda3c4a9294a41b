/**
 * Kafka backup pipeline: a consistent cut per partition (the end noted at start), full or
 * incremental after the newest backup of the same chain key, streamed into the backup writer.
 */
import type { Manifest } from '../archive/manifest.js';
import { KafkaAdmin, readTopic, type KafkaConnection, type KafkaReaderKind, type ReadRange } from '../brokers/kafka/index.js';
import { MqbakError, withContext } from '../common/errors.js';
import type { Progress } from '../common/progress.js';
import type { Store } from '../stores/store.js';
import { openBackupWriter, type StreamWriter } from './backup-writer.js';
import { findLatest } from './backup-reader.js';
import { createZstdPool, defaultPoolSize } from '../archive/zstd-pool.js';
import { loadZstdDecompressor } from '../archive/codec.js';

export interface KafkaBackupOptions {
  connection: KafkaConnection;
  /** source URL already redacted */
  url: string;
  store: Store;
  topics?: string[];
  topicRegex?: string;
  groups?: string[];
  isolation: 'read_committed' | 'read_uncommitted';
  full: boolean;
  toolVersion: string;
  segmentSize?: number;
  level?: number;
  signal: AbortSignal;
  progress: Progress;
  /** mqbak's own Fetch reader (default) or kafkajs' consumer. */
  reader?: KafkaReaderKind;
}

export interface KafkaBackupResult {
  manifest: Manifest;
  sha256: string;
  records: number;
}

/** Blocks of one partition being compressed at once (each holds one block of raw bytes). */
const COMPRESS_IN_FLIGHT = 2;

export async function backupKafka(o: KafkaBackupOptions): Promise<KafkaBackupResult> {
  const admin = await KafkaAdmin.connect(o.connection);
  try {
    let topics: string[];
    const all = await admin.listTopics();
    if (o.topicRegex !== undefined) {
      let re: RegExp;
      try {
        re = new RegExp(o.topicRegex);
      } catch {
        throw new MqbakError('usage', `--topic-regex ${o.topicRegex}: not a valid regular expression`);
      }
      topics = all.filter((t) => re.test(t));
      for (const t of o.topics ?? []) if (!topics.includes(t)) topics.push(t);
    } else topics = [...(o.topics ?? [])];
    topics = [...new Set(topics)].sort();
    if (topics.length === 0) throw new MqbakError('not-found', 'no topic to back up', { hint: 'check --topics / --topic-regex (mqbak skips internal __ topics)' });
    for (const t of topics) if (!all.includes(t)) throw new MqbakError('not-found', `topic ${t} not found on ${o.url}`);
    const clusterId = await admin.clusterId();
    const chainKey = `kafka:${clusterId}:${topics.join(',')}`;

    // the cut: every partition's watermarks before anything is read
    const layout = new Map<string, { partitions: number; replicationFactor: number; marks: Map<number, { low: bigint; high: bigint }> }>();
    for (const t of topics) {
      const parts = await admin.partitions(t);
      const marks = await admin.watermarks(t);
      layout.set(t, { partitions: parts.length, replicationFactor: parts[0]?.replicationFactor ?? 1, marks });
    }

    const warnings: string[] = [];
    let parent = o.full ? null : await findLatest(o.store, chainKey, { signal: o.signal });
    const parentTo = new Map<string, bigint>();
    if (parent) {
      const pid = parent.manifest.id;
      for (const s of parent.manifest.streams) parentTo.set(s.name, BigInt(s.to));
      for (const [t, l] of layout) {
        for (const [p, m] of l.marks) {
          const pt = parentTo.get(`kafka/${t}/${p}`);
          if (pt !== undefined && m.high < pt) {
            warnings.push(`${t}[${p}] ends at ${m.high}, before ${pt} where backup ${pid} ended (topic recreated?): writing a new full backup`);
            parent = null;
          }
        }
      }
    }
    // compression in worker threads, so that fetching and encoding (this thread) and zstd
    // run on separate cores; a couple of blocks per partition in flight keep the workers busy.
    // One worker at level 1 outpaces kafkajs' fetching on one core; a second is headroom. More
    // would only cost memory (each worker holds its own zstd heap).
    const pool = createZstdPool({ size: Math.min(2, defaultPoolSize()) });
    const writer = await openBackupWriter({
      store: o.store,
      kind: parent ? 'incremental' : 'full',
      parent: parent ? { id: parent.manifest.id, sha256: parent.sha256 } : null,
      source: { broker: 'kafka', url: o.url, chainKey, options: { isolation: o.isolation, end: 'last stable offset (ListOffsets latest, read_committed) noted at start' } },
      toolVersion: o.toolVersion,
      segmentSize: o.segmentSize,
      level: o.level,
      signal: o.signal,
      progress: o.progress,
      codec: pool,
      compressConcurrency: COMPRESS_IN_FLIGHT,
    });
    for (const w of warnings) writer.warn(w);
    let records = 0;
    try {
      // metadata first: a group committing during the backup is saved as it was at the cut
      const topicMeta: Record<string, unknown> = {};
      for (const t of topics) {
        const l = layout.get(t)!;
        const configs = await admin.topicConfigs(t);
        topicMeta[t] = { partitions: l.partitions, replicationFactor: l.replicationFactor, configs: configs ?? 'unavailable' };
      }
      writer.setMetadata('topics', topicMeta);
      const groupIds = o.groups ?? (await admin.listGroups());
      if (groupIds === null) {
        writer.setMetadata('groups', 'unavailable');
        writer.warn('the broker did not list consumer groups (ListGroups): no group offsets saved; name them with --groups');
      } else {
        const groups: Record<string, unknown> = {};
        for (const g of groupIds) {
          if (g.startsWith('mqbak-')) continue;
          try {
            const offs = await admin.groupOffsets(g, topics);
            if (Object.keys(offs).length > 0 || o.groups) groups[g] = offs;
          } catch (e) {
            writer.warn(`offsets of group ${g}: unavailable (${e instanceof Error ? e.message : String(e)})`);
          }
        }
        writer.setMetadata('groups', groups);
      }

      for (const t of topics) {
        const l = layout.get(t)!;
        const ranges: ReadRange[] = [];
        const writers = new Map<number, StreamWriter>();
        for (const [p, m] of [...l.marks].sort((a, b) => a[0] - b[0])) {
          const name = `kafka/${t}/${p}`;
          let from = parent ? (parentTo.get(name) ?? m.low) : m.low;
          const w = writer.openStream({ name, address: { topic: t, partition: p }, from });
          if (from < m.low) {
            w.addGap(from, m.low, 'retention');
            writer.warn(`${t}[${p}]: offsets ${from}..${m.low - 1n} were deleted by retention before they were backed up`);
            from = m.low;
          }
          writers.set(p, w);
          ranges.push({ partition: p, from, to: m.high });
        }
        o.progress.phase(`backing up ${t} (${ranges.length} partitions)`);
        const counted = (n: number) => {
          records += n;
          o.progress.update({ stream: t, records });
        };
        await readTopic(
          admin,
          t,
          ranges,
          o.isolation,
          {
            columns: async (p, cols) => {
              await writers.get(p)!.appendColumns(cols);
              counted(cols.count);
            },
            records: async (p, batch) => {
              await writers.get(p)!.appendMany(batch);
              counted(batch.length);
            },
            gap: (p, from, to) => {
              writers.get(p)!.addGap(from, to, 'retention');
              writer.warn(`${t}[${p}]: offsets ${from}..${to - 1n} were deleted by retention while the backup ran`);
            },
            warn: (m) => writer.warn(m),
            zstd: () => loadZstdDecompressor(),
          },
          o.signal,
          o.reader,
        );
        for (const r of ranges) await writers.get(r.partition)!.close(r.to > r.from ? r.to : r.from);
      }
      o.progress.update({ records });
      const c = await writer.commit();
      return { manifest: c.manifest, sha256: c.sha256, records };
    } catch (e) {
      await writer.abort().catch(() => {});
      throw e;
    } finally {
      await pool.close();
    }
  } catch (e) {
    throw withContext(e, 'kafka backup', 'internal');
  } finally {
    await admin.disconnect();
  }
}
