/**
 * Kafka restore: plan (pure), then per partition the chain's records in order through an
 * idempotent producer; offsets mapped from acknowledgements; groups translated; resumable.
 */
import { writeFile } from 'node:fs/promises';
import { KafkaAdmin, KafkaSink, type KafkaConnection } from '../brokers/kafka/index.js';
import { MqbakError, throwIfAborted } from '../common/errors.js';
import type { Progress } from '../common/progress.js';
import type { ArchiveRecord } from '../common/record.js';
import type { Store } from '../stores/store.js';
import { readStream, resolveChain } from './backup-reader.js';
import { OffsetMapBuilder, offsetRunToJson, translateCommitted, type OffsetRun } from './offset-map.js';
import { planKafkaRestore, type PlannedStream, type RestorePlan } from './restore-plan.js';
import { readJournal, writeJournal } from './restore-journal.js';

export interface KafkaRestoreOptions {
  connection: KafkaConnection;
  store: Store;
  backupId: string | 'latest';
  topics?: string[];
  map?: Record<string, string>;
  until?: number | null;
  groups?: string[];
  allGroups: boolean;
  allowNonempty: boolean;
  dryRun: boolean;
  offsetMapPath?: string;
  /** computed by the caller from store, backup, target and map */
  journalPath: (backupId: string) => string;
  signal: AbortSignal;
  progress: Progress;
}

export interface GroupPlan {
  group: string;
  topic: string;
  targetTopic: string;
  partition: number;
  committed: string;
  target: string | null;
}

export interface KafkaRestoreResult {
  plan: RestorePlan;
  records: number;
  skippedAlreadyRestored: number;
  perTopic: Record<string, number>;
  groups: GroupPlan[];
  resumed: boolean;
  offsetMap: OffsetRun[];
}

// One produce request per batch (one partition, acks -1, one request in flight). A record batch
// must stay under the broker's message.max.bytes (1 MiB + 12 by default): batches are cut before
// they would pass BATCH_BYTES (with room for the per-record framing); a record larger than that
// goes alone and the broker decides.
const BATCH_RECORDS = 10_000;
const BATCH_BYTES = 1_000_000;

/** Bytes a record takes in a Kafka record batch, framing estimated generously. */
function recordSize(r: ArchiveRecord): number {
  let n = 32 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) n += 10 + h.name.length * 3 + (h.value?.length ?? 0);
  return n;
}

async function* plannedRecords(store: Store, s: PlannedStream, until: number | null, signal: AbortSignal): AsyncGenerator<ArchiveRecord> {
  for (const part of s.parts) {
    for await (const r of readStream(store, part.stream, { signal })) {
      if (until !== null && r.timestamp !== null && r.timestamp > until) continue;
      yield r;
    }
  }
}

export async function restoreKafka(o: KafkaRestoreOptions): Promise<KafkaRestoreResult> {
  const chain = await resolveChain(o.store, o.backupId, { signal: o.signal });
  const head = chain[chain.length - 1]!.manifest;
  const plan = planKafkaRestore(
    chain.map((c) => c.manifest),
    { topics: o.topics, map: o.map, until: o.until ?? null },
  );
  const savedGroups = head.metadata.groups;
  const groupNames: string[] = o.allGroups ? (savedGroups && typeof savedGroups === 'object' ? Object.keys(savedGroups) : []) : (o.groups ?? []);
  if (groupNames.length > 0 && (typeof savedGroups !== 'object' || savedGroups === null)) {
    throw new MqbakError('not-found', `backup ${head.id} holds no consumer group offsets`);
  }
  const groupOffsets = (savedGroups ?? {}) as Record<string, Record<string, Record<string, string>>>;
  for (const g of groupNames) if (!groupOffsets[g]) throw new MqbakError('not-found', `group ${g} is not in backup ${head.id}`);
  const groupPlans: GroupPlan[] = [];
  for (const g of groupNames) {
    for (const [topic, parts] of Object.entries(groupOffsets[g]!)) {
      const s = plan.streams.find((x) => x.topic === topic);
      if (!s) continue;
      for (const [p, c] of Object.entries(parts)) groupPlans.push({ group: g, topic, targetTopic: s.targetTopic, partition: Number(p), committed: c, target: null });
    }
  }
  const result: KafkaRestoreResult = { plan, records: 0, skippedAlreadyRestored: 0, perTopic: {}, groups: groupPlans, resumed: false, offsetMap: [] };
  if (o.dryRun) return result;

  const admin = await KafkaAdmin.connect(o.connection);
  let sink: KafkaSink | null = null;
  try {
    const journalPath = o.journalPath(plan.backupId);
    let journal = await readJournal(journalPath);
    if (journal && journal.backupId !== plan.backupId) journal = null;
    result.resumed = journal !== null && !journal.completed;
    if (journal?.completed) journal = null; // a finished restore run again is a new restore

    // refuse active groups before writing anything
    for (const g of new Set(groupPlans.map((x) => x.group))) {
      let st: { state: string; members: number };
      try {
        st = await admin.groupState(g);
      } catch (e) {
        throw new MqbakError('unreachable', `describe group ${g} on the target: ${e instanceof Error ? e.message : String(e)}`);
      }
      if (st.members > 0 || !['Empty', 'Dead'].includes(st.state)) {
        throw new MqbakError('usage', `group ${g} has active members on the target (state ${st.state}): refusing to move its offsets`, { hint: 'stop its consumers first' });
      }
    }

    const existing = new Set(await admin.listTopics());
    for (const [t, info] of Object.entries(plan.topics)) {
      if (existing.has(t)) continue;
      o.progress.info(`creating topic ${t} with ${info.partitions} partitions`);
      await admin.createTopic(t, info.partitions, info.replicationFactor, info.configs ?? {});
    }
    const ends = new Map<string, bigint>();
    for (const t of Object.keys(plan.topics)) {
      for (const [p, m] of await admin.watermarks(t)) ends.set(`${t}/${p}`, m.high);
    }
    if (!journal) {
      for (const s of plan.streams) {
        const k = `${s.targetTopic}/${s.targetPartition}`;
        if (!ends.has(k)) throw new MqbakError('usage', `target ${s.targetTopic} has no partition ${s.targetPartition}`, { hint: 'the target topic has fewer partitions than the backed-up one' });
        if ((ends.get(k) ?? 0n) > 0n && !o.allowNonempty) {
          throw new MqbakError('usage', `target partition ${s.targetTopic}[${s.targetPartition}] already holds data (end offset ${ends.get(k)})`, {
            hint: 'restore under another name with --map, or pass --allow-nonempty',
          });
        }
      }
      journal = { version: 1, backupId: plan.backupId, initialEnds: Object.fromEntries(plan.streams.map((s) => [`${s.targetTopic}/${s.targetPartition}`, String(ends.get(`${s.targetTopic}/${s.targetPartition}`) ?? 0n)])), completed: false };
      await writeJournal(journalPath, journal);
    }

    sink = await KafkaSink.connect(admin);
    const runsByPartition = new Map<string, OffsetRun[]>();
    for (const s of plan.streams) {
      throwIfAborted(o.signal);
      const k = `${s.targetTopic}/${s.targetPartition}`;
      const initial = BigInt(journal.initialEnds[k] ?? '0');
      const current = ends.get(k) ?? 0n;
      let alreadyWritten = current - initial;
      if (alreadyWritten < 0n) throw new MqbakError('integrity', `target ${k} ends at ${current}, before ${initial} where this restore started (records deleted?)`);
      const mb = new OffsetMapBuilder(s.topic, s.partition, s.targetTopic, s.targetPartition);
      let next = initial;
      let batch: ArchiveRecord[] = [];
      let bytes = 0;
      let count = 0;
      o.progress.phase(`restoring ${s.topic}[${s.partition}] -> ${k}`);
      const flush = async () => {
        if (batch.length === 0) return;
        const base = await sink!.send(s.targetTopic, s.targetPartition, batch);
        if (base !== next) {
          throw new MqbakError('partial', `${k}: the broker stored the batch at ${base}, expected ${next}: another producer writes to this partition`);
        }
        for (const r of batch) mb.add(r.position, next++);
        count += batch.length;
        result.records += batch.length;
        o.progress.update({ stream: k, records: result.records });
        batch = [];
        bytes = 0;
      };
      for await (const r of plannedRecords(o.store, s, plan.until, o.signal)) {
        if (alreadyWritten > 0n) {
          // landed in an earlier, interrupted run: acknowledged by the broker, in this order
          mb.add(r.position, next++);
          alreadyWritten--;
          result.skippedAlreadyRestored++;
          count++;
          continue;
        }
        const size = recordSize(r);
        if (batch.length > 0 && (batch.length >= BATCH_RECORDS || bytes + size > BATCH_BYTES)) await flush();
        batch.push(r);
        bytes += size;
      }
      await flush();
      if (alreadyWritten > 0n) throw new MqbakError('integrity', `${k}: holds ${alreadyWritten} more records than this backup plans (not a resume of the same restore?)`);
      runsByPartition.set(k, mb.runs);
      result.offsetMap.push(...mb.runs);
      result.perTopic[s.targetTopic] = (result.perTopic[s.targetTopic] ?? 0) + count;
    }

    if (groupPlans.length > 0) {
      const finalEnds = new Map<string, bigint>();
      for (const t of new Set(groupPlans.map((g) => g.targetTopic))) for (const [p, m] of await admin.watermarks(t)) finalEnds.set(`${t}/${p}`, m.high);
      for (const gp of groupPlans) {
        const k = `${gp.targetTopic}/${gp.partition}`;
        gp.target = translateCommitted(runsByPartition.get(k) ?? [], BigInt(gp.committed), finalEnds.get(k) ?? 0n).toString();
      }
      const byGroupTopic = new Map<string, GroupPlan[]>();
      for (const gp of groupPlans) {
        const key = `${gp.group}\u0000${gp.targetTopic}`;
        byGroupTopic.set(key, [...(byGroupTopic.get(key) ?? []), gp]);
      }
      for (const list of byGroupTopic.values()) {
        const first = list[0]!;
        o.progress.info(`group ${first.group}: committing ${first.targetTopic}`);
        await admin.setGroupOffsets(first.group, first.targetTopic, list.map((g) => ({ partition: g.partition, offset: BigInt(g.target!) })));
      }
    }
    if (o.offsetMapPath) await writeFile(o.offsetMapPath, result.offsetMap.map((r) => `${offsetRunToJson(r)}\n`).join(''));
    journal.completed = true;
    await writeJournal(journalPath, journal);
    return result;
  } finally {
    await sink?.disconnect();
    await admin.disconnect();
  }
}
