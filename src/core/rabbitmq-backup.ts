/**
 * RabbitMQ backup: mirror (non-destructive) or drain (destructive), plus the vhost's definitions.
 * See docs/RABBITMQ.md for what each mode does to the queues.
 */
import { MqbakError, throwIfAborted, withContext } from '../common/errors.js';
import { silentProgress, type Progress } from '../common/progress.js';
import type { ArchiveRecord } from '../common/record.js';
import type { Manifest, StreamEntry } from '../archive/manifest.js';
import type { Store } from '../stores/store.js';
import { findLatest, type LoadedManifest } from './backup-reader.js';
import { openBackupWriter, type BackupWriter, type StreamWriter } from './backup-writer.js';
import {
  connectRabbit,
  exportDefinitions,
  ManagementClient,
  matchingPolicy,
  parseAmqpUrl,
  QueueConsumer,
  queueDepth,
  redactAmqpUrl,
  streamNextOffset,
  streamOffsetOf,
  toArchiveRecord,
  type DecodeNotes,
  type QueueInfo,
  type RabbitConnection,
} from '../brokers/rabbitmq/index.js';
import { amqpMetaOf, amqpToAttributes } from '../brokers/rabbitmq/amqp-json.js';

export type RabbitMode = 'mirror' | 'drain';

export interface RabbitBackupOptions {
  /** amqp(s)://user:pass@host:port/vhost */
  url: string;
  management: { url: string; user: string; password: string };
  store: Store;
  queues?: string[];
  allQueues?: boolean;
  mode: RabbitMode;
  /** Drain: stop after this many messages per queue. */
  maxMessages?: number;
  acceptRedeliveryRisk?: boolean;
  includeUsers?: boolean;
  /** Write a full backup even when a parent exists. */
  full?: boolean;
  toolVersion: string;
  segmentSize?: number;
  level?: number;
  /**
   * Longest time deliveries are held unacknowledged (mirror: the whole read; drain: one
   * checkpoint). Well under RabbitMQ's consumer_timeout (30 min by default). Default 10 min.
   */
  holdTimeoutMs?: number;
  /** Drain: messages per checkpoint (a committed backup, then one multiple-ack). Default 20,000, at most 65,535. */
  checkpointMessages?: number;
  /** A queue that delivers nothing for this long has nothing more for us. Default 5 s. */
  idleMs?: number;
  /** Tests only: per-consumer prefetch cap (exercises several consumers on one channel). */
  maxPrefetchPerConsumer?: number;
  signal?: AbortSignal;
  progress?: Progress;
}

export interface QueueResult {
  queue: string;
  type: QueueInfo['type'];
  stream: string;
  /** Ready messages (or, for streams, the offset range end) seen at start. */
  depthAtStart: number;
  records: number;
  /** Records that came with RabbitMQ's redelivered flag set. */
  redelivered: number;
  /** Mirror of classic/quorum queues: the messages were returned and RabbitMQ now marks them redelivered. */
  returnedToQueue: boolean;
  /** Drain: messages acknowledged (removed from the queue). */
  acked: number;
  mayDuplicatePrevious: boolean;
}

export interface RabbitBackupResult {
  /** Every backup committed by this run, oldest first (drain commits one per checkpoint). */
  backups: Array<{ manifest: Manifest; sha256: string }>;
  queues: QueueResult[];
  warnings: string[];
}

const DEFAULT_HOLD_MS = 10 * 60_000;
/** Thrown inside a drain checkpoint that received nothing: its writer is aborted, not committed. */
const NOTHING_TO_COMMIT = Symbol('nothing to commit');
// 20,000 rather than more: RabbitMQ works harder the more deliveries a channel holds unacknowledged
// and the bigger one multiple-ack is (docs/PERFORMANCE.md: a 100,000-message drain took 15% longer
// and 20% more broker CPU in checkpoints of 50,000)
const DEFAULT_CHECKPOINT = 20_000;
const MAX_PREFETCH = 65535;

export function streamName(vhost: string, queue: string): string {
  return `rabbitmq/${encodeURIComponent(vhost)}/${queue}`;
}

export function rabbitChainKey(cluster: string, vhost: string, mode: RabbitMode, queues: string[]): string {
  return `rabbitmq:${cluster}/${encodeURIComponent(vhost)}:${mode}:${[...queues].sort().map(encodeURIComponent).join(',')}`;
}

/**
 * The delivery limit a quorum queue applies, or null for none: the queue's x-delivery-limit
 * argument, the policy's or operator policy's delivery-limit (the lowest wins), and on RabbitMQ 4
 * the default of 20 when nothing is set (-1 there means unlimited).
 */
export function quorumDeliveryLimit(
  q: QueueInfo,
  policyDefinitions: Array<Record<string, unknown>>,
  rabbitmqVersion: string,
): number | null {
  const candidates: number[] = [];
  const add = (v: unknown) => {
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (Number.isFinite(n)) candidates.push(n);
  };
  add(q.arguments['x-delivery-limit']);
  add(q.effectivePolicy['delivery-limit']);
  for (const d of policyDefinitions) add(d['delivery-limit']);
  const major = Number(rabbitmqVersion.split('.')[0]);
  const limited = candidates.filter((n) => n >= 0);
  if (limited.length > 0) return Math.min(...limited);
  if (candidates.length > 0) return null; // only -1: unlimited
  return major >= 4 ? 20 : null;
}

export async function backupRabbitmq(options: RabbitBackupOptions): Promise<RabbitBackupResult> {
  const progress = options.progress ?? silentProgress;
  const signal = options.signal;
  const target = parseAmqpUrl(options.url);
  const vhost = target.vhost;
  const mgmt = new ManagementClient({ baseUrl: options.management.url, user: options.management.user, password: options.management.password, signal });
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    progress.warn(m);
  };

  progress.phase(`reading queues of vhost ${vhost} from ${mgmt.description}`);
  const overview = await mgmt.overview();
  if (!(await mgmt.vhostExists(vhost))) throw new MqbakError('not-found', `vhost ${JSON.stringify(vhost)} does not exist on ${mgmt.description}`);
  const all = await mgmt.listQueues(vhost);
  let selected: QueueInfo[];
  if (options.allQueues) {
    selected = all.filter((q) => !q.exclusive);
    for (const q of all.filter((x) => x.exclusive)) warn(`queue ${q.name} is exclusive to another connection: skipped`);
  } else {
    const names = options.queues ?? [];
    if (names.length === 0) throw new MqbakError('usage', 'no queues given', { hint: 'name them with --queues a,b or use --all-queues' });
    selected = [];
    for (const n of names) {
      const q = all.find((x) => x.name === n);
      if (!q) throw new MqbakError('not-found', `queue ${JSON.stringify(n)} does not exist in vhost ${JSON.stringify(vhost)}`);
      if (q.exclusive) throw new MqbakError('usage', `queue ${n} is exclusive to another connection: it cannot be read`);
      selected.push(q);
    }
  }
  selected.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

  // refuse before touching anything
  const policies = await mgmt.policies(vhost);
  const operatorPolicies = await mgmt.operatorPolicies(vhost);
  const limits = new Map<string, number | null>();
  for (const q of selected.filter((x) => x.type === 'quorum')) {
    const defs = [matchingPolicy(policies, q.name, q.type), matchingPolicy(operatorPolicies, q.name, q.type)]
      .filter((p) => p !== null)
      .map((p) => p.definition);
    limits.set(q.name, quorumDeliveryLimit(q, defs, overview.rabbitmqVersion));
  }
  if (options.mode === 'mirror' && !options.acceptRedeliveryRisk) {
    const risky = [...limits].filter(([, l]) => l !== null);
    if (risky.length > 0) {
      const list = risky.map(([n, l]) => `${n} (delivery limit ${l})`).join(', ');
      throw new MqbakError(
        'usage',
        `refusing to mirror quorum queue${risky.length > 1 ? 's' : ''} ${list}: every mirror returns each message once more, raising its delivery count; ` +
          'at the limit RabbitMQ dead-letters or drops the message',
        {
          hint: 'use --mode drain to empty the queue into the archive, remove the delivery limit, or accept the risk with --accept-redelivery-risk',
        },
      );
    }
  }

  progress.phase(`exporting definitions of vhost ${vhost}`);
  const definitions = await exportDefinitions(mgmt, vhost, { includeUsers: Boolean(options.includeUsers) });

  const cluster = overview.clusterName || `${target.host}:${target.port}`;
  const chainKey = rabbitChainKey(cluster, vhost, options.mode, selected.map((q) => q.name));
  // A mirror of a classic or quorum queue is a snapshot of what the queue holds now: it never
  // builds on a parent. Stream queues and drains are logs: they continue after the parent.
  const incrementalPossible = options.mode === 'drain' || selected.every((q) => q.type === 'stream');
  let parent: LoadedManifest | null = null;
  if (incrementalPossible && !options.full) parent = await findLatest(options.store, chainKey, { signal });

  const conn = await connectRabbit(options.url, { signal });
  const notes: DecodeNotes = { invalidUtf8: [] };
  const ctx: Ctx = { options, progress, warn, vhost, conn, notes, limits, chainKey, cluster, definitions, overview, selected, signal };
  try {
    if (options.mode === 'mirror') return await mirrorAll(ctx, parent, warnings);
    return await drainAll(ctx, parent, warnings);
  } finally {
    await conn.close();
  }
}

interface Ctx {
  options: RabbitBackupOptions;
  progress: Progress;
  warn: (m: string) => void;
  vhost: string;
  conn: RabbitConnection;
  notes: DecodeNotes;
  limits: Map<string, number | null>;
  chainKey: string;
  cluster: string;
  definitions: unknown;
  overview: { rabbitmqVersion: string; clusterName: string };
  selected: QueueInfo[];
  signal: AbortSignal | undefined;
}

async function newWriter(ctx: Ctx, parent: LoadedManifest | null): Promise<BackupWriter> {
  const o = ctx.options;
  const writer = await openBackupWriter({
    store: o.store,
    kind: parent ? 'incremental' : 'full',
    parent: parent ? { id: parent.manifest.id, sha256: parent.sha256 } : null,
    source: {
      broker: 'rabbitmq',
      url: redactAmqpUrl(o.url),
      chainKey: ctx.chainKey,
      options: {
        mode: o.mode,
        vhost: ctx.vhost,
        queues: ctx.selected.map((q) => q.name),
        includeUsers: Boolean(o.includeUsers),
        acceptRedeliveryRisk: Boolean(o.acceptRedeliveryRisk),
        maxMessages: o.maxMessages ?? null,
      },
    },
    toolVersion: o.toolVersion,
    signal: ctx.signal,
    progress: ctx.progress,
    segmentSize: o.segmentSize,
    level: o.level,
  });
  writer.setMetadata('rabbitmq', {
    cluster: ctx.cluster,
    rabbitmqVersion: ctx.overview.rabbitmqVersion,
    vhost: ctx.vhost,
    queues: ctx.selected.map((q) => ({
      name: q.name,
      type: q.type,
      durable: q.durable,
      arguments: q.arguments,
      policy: q.policy,
      deliveryLimit: ctx.limits.get(q.name) ?? null,
    })),
  });
  writer.setMetadata('rabbitmqDefinitions', ctx.definitions);
  return writer;
}

function parentStream(parent: LoadedManifest | null, name: string): StreamEntry | undefined {
  return parent?.manifest.streams.find((s) => s.name === name);
}

function spec(ctx: Ctx, q: QueueInfo, from: bigint, extra: Record<string, unknown>) {
  return {
    name: streamName(ctx.vhost, q.name),
    address: { vhost: ctx.vhost, queue: q.name, queueType: q.type },
    from,
    extra,
  };
}

function finishNotes(ctx: Ctx, writer: BackupWriter): void {
  if (ctx.notes.invalidUtf8.length > 0) {
    const where = [...new Set(ctx.notes.invalidUtf8)].slice(0, 5).join(', ');
    const m = `${ctx.notes.invalidUtf8.length} property or header string(s) were not valid UTF-8 (${where}); they are kept with U+FFFD replacement characters`;
    writer.warn(m);
    ctx.notes.invalidUtf8 = [];
  }
}

/**
 * How long deliveries may be held: --hold-timeout (default 10 min), and never more than 80 % of a
 * consumer timeout set on the queue itself (x-consumer-timeout argument or consumer-timeout
 * policy key, RabbitMQ 3.12+). The broker-wide consumer_timeout (30 min by default) is not
 * visible through the API: the default stays well under it.
 */
function holdLimit(ctx: Ctx, q: QueueInfo): number {
  let ms = ctx.options.holdTimeoutMs ?? DEFAULT_HOLD_MS;
  for (const v of [q.arguments['x-consumer-timeout'], q.effectivePolicy['consumer-timeout']]) {
    const n = Number(v);
    if (v !== undefined && Number.isFinite(n) && n > 0) ms = Math.min(ms, Math.floor(n * 0.8));
  }
  return ms;
}

// ---------------------------------------------------------------- mirror

async function mirrorAll(ctx: Ctx, parent: LoadedManifest | null, warnings: string[]): Promise<RabbitBackupResult> {
  const writer = await newWriter(ctx, parent);
  const results: QueueResult[] = [];
  try {
    for (const q of ctx.selected) {
      throwIfAborted(ctx.signal);
      try {
        if (q.type === 'stream') results.push(await readStreamQueue(ctx, writer, q, parent));
        else results.push(await mirrorQueue(ctx, writer, q));
      } catch (e) {
        throw withContext(e, `queue ${q.name}`, 'unreachable');
      }
    }
    finishNotes(ctx, writer);
    const committed = await writer.commit();
    return { backups: [committed], queues: results, warnings: [...warnings, ...committed.manifest.warnings.filter((w) => !warnings.includes(w))] };
  } catch (e) {
    await writer.abort().catch(() => {});
    throw e;
  }
}

async function mirrorQueue(ctx: Ctx, writer: BackupWriter, q: QueueInfo): Promise<QueueResult> {
  const o = ctx.options;
  const { messages: depth, consumers } = await queueDepth(ctx.conn, q.name);
  ctx.progress.phase(`mirroring ${q.type} queue ${q.name}: ${depth} messages`);
  if (consumers > 0) {
    ctx.warn(
      `queue ${q.name} has ${consumers} consumer(s): they compete for messages while mirroring, so some may be missed, and they may receive returned messages marked redelivered`,
    );
  }
  const stream = writer.openStream(spec(ctx, q, 0n, { mode: 'mirror', depthAtStart: depth, returnedToQueue: true }));
  const result: QueueResult = {
    queue: q.name,
    type: q.type,
    stream: stream.name,
    depthAtStart: depth,
    records: 0,
    redelivered: 0,
    returnedToQueue: depth > 0,
    acked: 0,
    mayDuplicatePrevious: false,
  };
  if (depth === 0) {
    await stream.close(0n);
    return result;
  }
  const limit = ctx.limits.get(q.name) ?? null;
  let nearLimit = 0;
  // prefetch = depth: with less, the broker stops sending once that many are unacked and the read
  // would wait forever (FINDINGS); above 65535 several consumers share the channel
  const consumer = await QueueConsumer.open(ctx.conn, q.name, { prefetch: depth, maxPrefetchPerConsumer: o.maxPrefetchPerConsumer, signal: ctx.signal });
  const holdMs = holdLimit(ctx, q);
  const deadline = Date.now() + holdMs;
  let position = 0n;
  try {
    while (result.records < depth) {
      throwIfAborted(ctx.signal);
      if (Date.now() > deadline) {
        throw new MqbakError(
          'partial',
          `mirror of ${q.name} read ${result.records} of ${depth} messages within the hold limit of ${Math.round(holdMs / 1000)} s; every message went back to the queue and no backup was written`,
          { hint: 'RabbitMQ closes consumers holding deliveries longer than consumer_timeout; store to a faster target, or use --mode drain' },
        );
      }
      const msg = await consumer.next(Math.min(ctx.options.idleMs ?? 5000, Math.max(1, deadline - Date.now())), ctx.signal);
      if (!msg) {
        if (Date.now() > deadline) continue;
        ctx.warn(`queue ${q.name}: ${depth} messages at start, only ${result.records} delivered (others consumed, expired or dead-lettered meanwhile)`);
        break;
      }
      const record = toArchiveRecord(msg, position, ctx.notes);
      if (msg.fields.redelivered) result.redelivered++;
      if (limit !== null) {
        const dc = amqpMetaOf(record).properties.headers?.find((h) => h.name === 'x-delivery-count')?.value;
        const n = dc && 'value' in dc ? Number(dc.value) : 0;
        if (n + 1 >= limit) nearLimit++;
      }
      await stream.append(record);
      position++;
      result.records++;
      if (result.records % 1000 === 0) ctx.progress.update({ stream: stream.name, records: result.records, total: depth });
    }
  } finally {
    // the return: closing the channel without acknowledging puts every delivery back, in order
    await consumer.close();
  }
  ctx.progress.update({ stream: stream.name, records: result.records, total: depth });
  if (nearLimit > 0) ctx.warn(`queue ${q.name}: ${nearLimit} message(s) were returned at or next to the delivery limit ${limit}: RabbitMQ may dead-letter or drop them`);
  ctx.progress.info(`queue ${q.name}: ${result.records} messages copied and returned to the queue; RabbitMQ now marks them redelivered`);
  await stream.close(position);
  return result;
}

// ---------------------------------------------------------------- streams

async function readStreamQueue(ctx: Ctx, writer: BackupWriter, q: QueueInfo, parent: LoadedManifest | null): Promise<QueueResult> {
  const name = streamName(ctx.vhost, q.name);
  const prev = parentStream(parent, name);
  const from = prev ? BigInt(prev.to) : 0n;
  const end = await streamNextOffset(ctx.conn, q.name, ctx.signal);
  const stream = writer.openStream(spec(ctx, q, from, { mode: 'stream-offset' }));
  const result: QueueResult = {
    queue: q.name,
    type: 'stream',
    stream: name,
    depthAtStart: end === null ? 0 : Number(end - from),
    records: 0,
    redelivered: 0,
    returnedToQueue: false,
    acked: 0,
    mayDuplicatePrevious: false,
  };
  if (end === null || end <= from) {
    if (prev && (end === null ? from > 0n : end < from)) {
      ctx.warn(
        `stream ${q.name} ends at offset ${end ?? 0}, before the previous backup's ${from}: was it deleted and recreated? nothing was read; use --full to back it up from its start`,
      );
    }
    await stream.close(from);
    return result;
  }
  ctx.progress.phase(`reading stream ${q.name} offsets ${from}..${end - 1n}`);
  const consumer = await QueueConsumer.open(ctx.conn, q.name, {
    prefetch: 1000,
    arguments: { 'x-stream-offset': from === 0n ? 'first' : { '!': 'long', value: from.toString() } },
    signal: ctx.signal,
  });
  let last: bigint | null = null;
  let sinceAck = 0;
  try {
    for (;;) {
      throwIfAborted(ctx.signal);
      const msg = await consumer.next(ctx.options.idleMs ?? 5000, ctx.signal);
      if (!msg) {
        ctx.warn(`stream ${q.name}: no delivery for ${(ctx.options.idleMs ?? 5000) / 1000} s before offset ${end - 1n}; stopped at ${last ?? 'nothing'}`);
        break;
      }
      // stream acks only return credit: nothing is removed
      if (++sinceAck >= 200) {
        consumer.ack(msg.fields.deliveryTag, true);
        sinceAck = 0;
      }
      const record = toArchiveRecord(msg, 0n, ctx.notes, { dropStreamOffset: false });
      const meta = amqpMetaOf(record);
      const offset = streamOffsetOf(meta.properties);
      if (offset === null) throw new MqbakError('internal', `stream ${q.name}: a delivery without x-stream-offset`);
      if (offset < from) continue; // a chunk starts before the offset asked for
      if (offset >= end) break;
      if (last === null && offset > from) stream.addGap(from, offset, 'not in the stream any more (retention) when read');
      if (last !== null && offset > last + 1n) stream.addGap(last + 1n, offset, 'offsets absent from the stream when read');
      record.position = offset;
      meta.properties.headers = meta.properties.headers?.filter((h) => h.name !== 'x-stream-offset');
      record.attributes = amqpToAttributes(meta);
      await stream.append(record);
      last = offset;
      result.records++;
      if (result.records % 1000 === 0) ctx.progress.update({ stream: name, records: result.records, total: result.depthAtStart });
      if (offset >= end - 1n) break;
    }
  } finally {
    await consumer.close();
  }
  await stream.close(last === null ? from : last + 1n);
  return result;
}

// ---------------------------------------------------------------- drain

async function drainAll(ctx: Ctx, parent: LoadedManifest | null, warnings: string[]): Promise<RabbitBackupResult> {
  const backups: Array<{ manifest: Manifest; sha256: string }> = [];
  const results: QueueResult[] = [];
  let current = parent;
  const commitWith = async (fill: (w: BackupWriter) => Promise<void>): Promise<LoadedManifest> => {
    const writer = await newWriter(ctx, current);
    try {
      await fill(writer);
      finishNotes(ctx, writer);
      const committed = await writer.commit();
      backups.push(committed);
      current = committed;
      return committed;
    } catch (e) {
      await writer.abort().catch(() => {});
      throw e;
    }
  };
  // streams first, in one backup: nothing is removed from them
  const streams = ctx.selected.filter((q) => q.type === 'stream');
  if (streams.length > 0) {
    const base = current;
    await commitWith(async (w) => {
      for (const q of streams) results.push(await readStreamQueue(ctx, w, q, base));
    });
  }
  for (const q of ctx.selected.filter((x) => x.type !== 'stream')) {
    throwIfAborted(ctx.signal);
    try {
      results.push(await drainQueue(ctx, q, () => current, commitWith, backups.length === 0, parent !== null));
    } catch (e) {
      throw withContext(e, `queue ${q.name}`, 'unreachable');
    }
  }
  const all = [...warnings];
  for (const b of backups) for (const w of b.manifest.warnings) if (!all.includes(w)) all.push(w);
  return { backups, queues: results, warnings: all };
}

async function drainQueue(
  ctx: Ctx,
  q: QueueInfo,
  latest: () => LoadedManifest | null,
  commitWith: (fill: (w: BackupWriter) => Promise<void>) => Promise<LoadedManifest>,
  mustCommitOne: boolean,
  hadPrevious: boolean,
): Promise<QueueResult> {
  const o = ctx.options;
  const name = streamName(ctx.vhost, q.name);
  const { messages: depth, consumers } = await queueDepth(ctx.conn, q.name);
  const target = Math.min(depth, o.maxMessages ?? Number.POSITIVE_INFINITY);
  ctx.progress.phase(`draining ${q.type} queue ${q.name}: ${target} of ${depth} messages`);
  if (consumers > 0) ctx.warn(`queue ${q.name} has ${consumers} other consumer(s): they take some messages while draining`);
  const result: QueueResult = {
    queue: q.name,
    type: q.type,
    stream: name,
    depthAtStart: depth,
    records: 0,
    redelivered: 0,
    returnedToQueue: false,
    acked: 0,
    mayDuplicatePrevious: false,
  };
  const checkpoint = Math.max(1, Math.min(o.checkpointMessages ?? DEFAULT_CHECKPOINT, MAX_PREFETCH, Math.max(1, target)));
  if (target === 0) {
    if (mustCommitOne) {
      const prev = parentStream(latest(), name);
      const from = prev ? BigInt(prev.to) : 0n;
      await commitWith(async (w) => {
        await w.openStream(spec(ctx, q, from, { mode: 'drain', depthAtStart: depth })).close(from);
      });
    }
    return result;
  }
  // Acknowledgements wait for the checkpoint's manifest, not only its segments: a segment that
  // no manifest references is invisible to restore, so acking before the commit could lose
  // messages to a crash. prefetch = checkpoint size so the broker never waits on us mid-batch.
  const consumer = await QueueConsumer.open(ctx.conn, q.name, { prefetch: checkpoint, signal: ctx.signal });
  let drained = 0;
  let exhausted = false;
  try {
    while (drained < target && !exhausted) {
      throwIfAborted(ctx.signal);
      const prev = parentStream(latest(), name);
      let position = prev ? BigInt(prev.to) : 0n;
      const from = position;
      let lastTag = -1;
      let inBatch = 0;
      let batchRedelivered = 0;
      const deadline = Date.now() + holdLimit(ctx, q);
      const committed = await commitWith(async (w) => {
        const stream: StreamWriter = w.openStream(spec(ctx, q, from, { mode: 'drain', depthAtStart: depth }));
        while (inBatch < checkpoint && drained + inBatch < target && Date.now() < deadline) {
          throwIfAborted(ctx.signal);
          const msg = await consumer.next(Math.min(o.idleMs ?? 5000, Math.max(1, deadline - Date.now())), ctx.signal);
          if (!msg) {
            if (Date.now() >= deadline) break;
            exhausted = true;
            break;
          }
          const record: ArchiveRecord = toArchiveRecord(msg, position, ctx.notes);
          if (msg.fields.redelivered) batchRedelivered++;
          await stream.append(record);
          lastTag = msg.fields.deliveryTag;
          position++;
          inBatch++;
          if ((drained + inBatch) % 1000 === 0) ctx.progress.update({ stream: name, records: drained + inBatch, total: target });
        }
        // the queue ran dry right after a full checkpoint: no empty backup for that
        if (inBatch === 0 && !(mustCommitOne && drained === 0)) throw NOTHING_TO_COMMIT;
        if (batchRedelivered > 0) stream.setExtra('redelivered', batchRedelivered);
        if (batchRedelivered > 0 && hadPrevious) {
          // a message RabbitMQ redelivers may be one an earlier drain of this chain committed and
          // then crashed before acknowledging: the chain may hold it twice. (Without an earlier
          // drain in the chain there is nothing to duplicate: uncommitted segments are not backups.)
          stream.setExtra('mayDuplicatePrevious', true);
          w.warn(
            `queue ${q.name}: ${batchRedelivered} message(s) came marked redelivered; any that an interrupted earlier drain had committed are in the chain twice`,
          );
        }
        await stream.close(position);
      }).catch((e: unknown) => {
        if (e === NOTHING_TO_COMMIT) return null;
        throw e;
      });
      if (committed === null) break;
      if (lastTag >= 0) {
        consumer.ack(lastTag, true);
        result.acked += inBatch;
      }
      drained += inBatch;
      result.records += inBatch;
      result.redelivered += batchRedelivered;
      if (batchRedelivered > 0 && hadPrevious) result.mayDuplicatePrevious = true;
      if (inBatch === 0) break;
    }
  } finally {
    // deliveries past the stopping point (prefetch) go back unacknowledged
    await consumer.close();
  }
  if (drained < target && exhausted) {
    ctx.warn(`queue ${q.name}: ${target} messages to drain at start, ${drained} delivered (others consumed, expired or dead-lettered meanwhile)`);
  }
  ctx.progress.update({ stream: name, records: drained, total: target });
  return result;
}
