/**
 * RabbitMQ restore: optionally recreate the saved definitions, then republish each queue's
 * records in order with publisher confirms and mandatory routing. A record counts as restored
 * only when confirmed and not returned.
 */
import { createHash } from 'node:crypto';
import { MqbakError, throwIfAborted, withContext } from '../common/errors.js';
import { silentProgress, type Progress } from '../common/progress.js';
import type { AmqpProperties, AmqpValue } from '../brokers/rabbitmq/amqp-types.js';
import { amqpMetaOf } from '../brokers/rabbitmq/amqp-json.js';
import type { StreamEntry } from '../archive/manifest.js';
import type { Store } from '../stores/store.js';
import { readStream, resolveChain, type LoadedManifest } from './backup-reader.js';
import { journalId, RestoreJournal, SettledTracker, type QueueProgress } from './rabbitmq-restore-journal.js';
import {
  applyDefinitions,
  ConfirmPublisher,
  connectRabbit,
  ManagementClient,
  parseAmqpUrl,
  publishExtrasSupported,
  publishOptions,
  queueDepth,
  renameBrokerHeaders,
  scanStream,
  streamNextOffset,
  type ManagementClient as ManagementClientType,
  type ApplyReport,
  type PublishOutcome,
  type RabbitConnection,
  type SavedDefinitions,
} from '../brokers/rabbitmq/index.js';

export interface RabbitRestoreOptions {
  store: Store;
  /** Target amqp(s)://user:pass@host:port/vhost */
  url: string;
  management: { url: string; user: string; password: string };
  /** Backup id, or 'latest' (default). */
  backup?: string;
  /** Source queue names to restore (default: all in the backup). */
  queues?: string[];
  /** Source queue name -> target queue name. */
  map?: Record<string, string>;
  definitions?: boolean;
  viaExchange?: boolean;
  /** Skip records whose timestamp (ms) is after this. */
  until?: number;
  dryRun?: boolean;
  /** Unconfirmed messages allowed in flight. */
  window?: number;
  signal?: AbortSignal;
  progress?: Progress;
}

export interface QueueRestoreResult {
  source: string;
  target: string;
  type: 'classic' | 'quorum' | 'stream';
  /** Records in the backup chain for this queue. */
  records: number;
  restored: number;
  failed: number;
  /** Records left out by --until. */
  skipped: number;
  /** Records an earlier, interrupted run of the same restore had already settled. */
  alreadyRestored: number;
  /** The first few failure reasons. */
  failures: string[];
}

export interface RabbitRestoreResult {
  backup: string;
  chain: string[];
  records: number;
  restored: number;
  failed: number;
  skipped: number;
  alreadyRestored: number;
  /** The journal in the store (restores/<id>/) and whether this run continued an interrupted one. */
  journal: { id: string; resumed: boolean; writeFailure: string | null } | null;
  queues: QueueRestoreResult[];
  definitions: ApplyReport | null;
  /** Messages whose user-id was dropped because it differs from the connecting user. */
  userIdDropped: number;
  /** Messages whose broker-owned headers were moved to x-mqbak-original-* names. */
  headersRenamed: number;
  warnings: string[];
  dryRun: boolean;
  /** Stream queues restored into stream queues: where each source offset landed. */
  offsetMap: OffsetMapping[];
}

export interface OffsetMapping {
  /** The archive's stream name, e.g. rabbitmq/%2F/events. */
  stream: string;
  source: string;
  target: string;
  sourceOffset: string;
  targetOffset: string;
}

interface QueuePlan {
  source: string;
  target: string;
  type: 'classic' | 'quorum' | 'stream';
  entries: StreamEntry[];
  records: number;
}

/** Pure: which queues go where, from the chain's manifests (oldest first). */
export function planRabbitRestore(chain: LoadedManifest[], options: { queues?: string[]; map?: Record<string, string> }): QueuePlan[] {
  const plans = new Map<string, QueuePlan>();
  for (const { manifest } of chain) {
    for (const s of manifest.streams) {
      // a RabbitMQ stream's address is {vhost, queue, queueType}
      const a = s.address as { queue?: unknown; queueType?: unknown };
      if (manifest.source.broker !== 'rabbitmq' || typeof a.queue !== 'string') continue;
      const q = a.queue;
      let p = plans.get(q);
      if (!p) {
        p = { source: q, target: options.map?.[q] ?? q, type: a.queueType as QueuePlan['type'], entries: [], records: 0 };
        plans.set(q, p);
      }
      p.entries.push(s);
      p.records += s.records;
    }
  }
  const wanted = options.queues && options.queues.length > 0 ? new Set(options.queues) : null;
  if (wanted) {
    for (const q of wanted) {
      if (!plans.has(q)) throw new MqbakError('not-found', `queue ${JSON.stringify(q)} is not in the backup`, { hint: `the backup holds: ${[...plans.keys()].join(', ') || 'no queues'}` });
    }
  }
  for (const src of Object.keys(options.map ?? {})) {
    if (!plans.has(src)) throw new MqbakError('usage', `--map ${src}=...: queue ${JSON.stringify(src)} is not in the backup`);
  }
  return [...plans.values()].filter((p) => !wanted || wanted.has(p.source)).sort((a, b) => (a.source < b.source ? -1 : 1));
}

export async function restoreRabbitmq(options: RabbitRestoreOptions): Promise<RabbitRestoreResult> {
  const progress = options.progress ?? silentProgress;
  const signal = options.signal;
  const warnings: string[] = [];
  const warn = (m: string) => {
    warnings.push(m);
    progress.warn(m);
  };
  const chain = await resolveChain(options.store, options.backup ?? 'latest', { signal });
  const newest = chain[chain.length - 1]!;
  if (newest.manifest.source.broker !== 'rabbitmq') {
    throw new MqbakError('usage', `backup ${newest.manifest.id} is a ${newest.manifest.source.broker} backup, not RabbitMQ`);
  }
  const plans = planRabbitRestore(chain, { queues: options.queues, map: options.map });
  const targets = new Map<string, string>();
  for (const p of plans) {
    const other = targets.get(p.target);
    if (other !== undefined) throw new MqbakError('usage', `queues ${other} and ${p.source} would both be restored into ${p.target}`);
    targets.set(p.target, p.source);
  }
  const result: RabbitRestoreResult = {
    backup: newest.manifest.id,
    chain: chain.map((c) => c.manifest.id),
    records: plans.reduce((n, p) => n + p.records, 0),
    restored: 0,
    failed: 0,
    skipped: 0,
    alreadyRestored: 0,
    journal: null,
    queues: plans.map((p) => ({ source: p.source, target: p.target, type: p.type, records: p.records, restored: 0, failed: 0, skipped: 0, alreadyRestored: 0, failures: [] })),
    definitions: null,
    userIdDropped: 0,
    headersRenamed: 0,
    warnings,
    dryRun: Boolean(options.dryRun),
    offsetMap: [],
  };
  if (options.dryRun) return result;

  const target = parseAmqpUrl(options.url);
  const mgmt = new ManagementClient({ baseUrl: options.management.url, user: options.management.user, password: options.management.password, signal });
  if (options.definitions) {
    const defs = newest.manifest.metadata.rabbitmqDefinitions as SavedDefinitions | undefined;
    if (!defs) throw new MqbakError('not-found', `backup ${newest.manifest.id} holds no RabbitMQ definitions`);
    if (!(await mgmt.vhostExists(target.vhost))) {
      throw new MqbakError('not-found', `vhost ${JSON.stringify(target.vhost)} does not exist on the target`, { hint: 'create it first (rabbitmqctl add_vhost) and give the user permissions on it' });
    }
    progress.phase(`recreating definitions on vhost ${target.vhost}`);
    const rename = (q: string) => options.map?.[q] ?? q;
    result.definitions = await applyDefinitions(mgmt, target.vhost, defs, rename, { queues: new Set(plans.map((p) => p.source)) });
    for (const c of result.definitions.conflicts) warn(c);
    for (const n of result.definitions.notes) warn(n);
  }

  const redactedTarget = options.url.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2@');
  const journal = await RestoreJournal.open(
    options.store,
    journalId({ backup: newest.manifest.id, target: redactedTarget, map: options.map ?? {}, queues: plans.map((p) => p.source), viaExchange: Boolean(options.viaExchange) }),
    signal,
  );
  result.journal = { id: journal.id, resumed: journal.resumed !== null, writeFailure: null };
  if (journal.resumed) progress.info(`continuing the restore interrupted at ${journal.resumed.writtenAt} (journal restores/${journal.id}/)`);
  const trackers = new Map<string, SettledTracker>();
  const state = (complete: boolean) => {
    const queues: Record<string, QueueProgress> = {};
    for (const p of plans) {
      const t = trackers.get(p.source);
      const prev = journal.resumed?.queues[p.source];
      if (t) queues[p.source] = t.progress(p.target);
      else if (prev) queues[p.source] = prev;
    }
    return { backup: newest.manifest.id, target: redactedTarget, queues, complete };
  };
  let lastCheckpoint = Date.now();
  const maybeCheckpoint = () => {
    if (Date.now() - lastCheckpoint < 2000) return;
    lastCheckpoint = Date.now();
    void journal.checkpoint(state(false));
  };

  const conn = await connectRabbit(options.url, { signal });
  let finished = false;
  try {
    for (let i = 0; i < plans.length; i++) {
      throwIfAborted(signal);
      const plan = plans[i]!;
      const qr = result.queues[i]!;
      const tracker = new SettledTracker(journal.resumed?.queues[plan.source]);
      trackers.set(plan.source, tracker);
      try {
        await restoreQueue(options, conn, mgmt, target.vhost, target.user, plan, qr, result, progress, tracker, maybeCheckpoint);
      } catch (e) {
        throw withContext(e, `restore queue ${plan.source} into ${plan.target}`, 'unreachable');
      }
      result.restored += qr.restored;
      result.failed += qr.failed;
      result.skipped += qr.skipped;
      result.alreadyRestored += qr.alreadyRestored;
      // an interrupt closes the connection: what was unconfirmed then failed, which is not a result
      throwIfAborted(signal);
    }
    finished = true;
  } finally {
    await conn.close();
    // the last word, also after an error or an interrupt: what a rerun may skip. A restore with
    // failures stays open so that the rerun retries exactly those.
    await journal.checkpoint(state(finished && result.failed === 0));
    result.journal.writeFailure = journal.writeFailure;
  }
  if (journal.writeFailure) warn(`the restore journal could not be stored (${journal.writeFailure}): an interrupted run would start again from the beginning`);
  if (result.alreadyRestored > 0) {
    warn(`${result.alreadyRestored} record(s) were restored by the interrupted earlier run and skipped`);
    if (result.offsetMap.length > 0) warn('the offset map covers only the records this run published');
  }
  if (result.userIdDropped > 0) {
    warn(`${result.userIdDropped} message(s) had a user-id other than ${target.user}: RabbitMQ refuses those, so the property was left out`);
  }
  if (result.headersRenamed > 0) {
    warn(`${result.headersRenamed} message(s) carried broker-owned headers (x-death, x-delivery-count, ...): republished as x-mqbak-original-*`);
  }
  return result;
}

async function restoreQueue(
  options: RabbitRestoreOptions,
  conn: RabbitConnection,
  mgmt: ManagementClientType,
  vhost: string,
  user: string,
  plan: QueuePlan,
  qr: QueueRestoreResult,
  result: RabbitRestoreResult,
  progress: Progress,
  tracker: SettledTracker,
  maybeCheckpoint: () => void,
): Promise<void> {
  const signal = options.signal;
  if (!options.viaExchange) {
    try {
      await queueDepth(conn, plan.target);
    } catch (e) {
      if (e instanceof MqbakError && e.code === 'not-found') {
        throw new MqbakError('not-found', `target queue ${plan.target} does not exist`, { hint: 'create it, or pass --definitions to recreate the saved queues' });
      }
      throw e;
    }
  }
  // a stream target gives each message a new offset, which publishing does not report: note where
  // the stream ends now, then read the restored messages back to see where each one landed
  let tracking: { start: bigint; sent: Array<{ position: bigint; hash: string; ok?: boolean }> } | null = null;
  let targetType: string | null = null;
  if (!options.viaExchange) {
    try {
      targetType = (await mgmt.getQueue(vhost, plan.target))?.type ?? null;
    } catch (e) {
      if (e instanceof MqbakError && e.code === 'interrupted') throw e;
      // restoring messages does not need the management API; only the offset map does
      const m = `queue ${plan.target}: could not ask the management API for its type (${e instanceof Error ? e.message : String(e)}): no offset map if it is a stream`;
      result.warnings.push(m);
      progress.warn(m);
    }
  }
  if (targetType === 'stream') {
    tracking = { start: (await streamNextOffset(conn, plan.target, signal)) ?? 0n, sent: [] };
  }
  progress.phase(`restoring ${plan.records} messages of ${plan.source} into ${plan.target}`);
  const publisher = await ConfirmPublisher.open(conn, { window: options.window ?? 1000 });
  const problems = new Set<string>();
  let clusterIdDropped = 0;
  let droppedByStream = 0;
  const extrasSupported = publishExtrasSupported(conn.model);
  const outcomes: Array<Promise<void>> = [];
  const record = (o: PublishOutcome) => {
    if (o.ok) qr.restored++;
    else {
      qr.failed++;
      if (qr.failures.length < 5 && o.reason) qr.failures.push(o.reason);
    }
    const done = qr.restored + qr.failed;
    if (done % 1000 === 0) progress.update({ stream: plan.target, records: done, total: plan.records });
  };
  try {
    for (const entry of plan.entries) {
      for await (const rec of readStream(options.store, entry, { signal })) {
        throwIfAborted(signal);
        if (options.until !== undefined && rec.timestamp !== null && rec.timestamp > options.until) {
          qr.skipped++;
          continue;
        }
        if (!tracker.wanted(rec.position)) {
          qr.alreadyRestored++;
          continue;
        }
        let meta;
        try {
          meta = amqpMetaOf(rec);
        } catch (e) {
          throw withContext(e, `stream ${entry.name}`);
        }
        const props: AmqpProperties = { ...meta.properties };
        if (props.headers) {
          const r = renameBrokerHeaders(props.headers);
          if (r.renamed.length > 0) result.headersRenamed++;
          props.headers = r.headers;
        }
        if (props.userId !== undefined && props.userId !== user) {
          delete props.userId;
          result.userIdDropped++;
        }
        if (props.clusterId !== undefined && !extrasSupported) clusterIdDropped++;
        const list: string[] = [];
        const opts = publishOptions(props, list);
        for (const p of list) problems.add(p);
        let exchange = '';
        let routingKey = plan.target;
        if (options.viaExchange && meta.exchange !== '') {
          exchange = meta.exchange;
          routingKey = meta.routingKey;
        }
        const body = rec.value === null ? Buffer.alloc(0) : Buffer.from(rec.value.buffer, rec.value.byteOffset, rec.value.byteLength);
        if (tracking && props.headers) {
          // measured on 3.10: a stream queue closes the whole connection (INTERNAL_ERROR) on a
          // decimal header, and silently drops array and table headers
          if (props.headers.some((h) => containsDecimal(h.value))) {
            tracker.sent(rec.position)(false);
            record({ ok: false, reason: 'not sent: RabbitMQ stream queues cannot store decimal headers (the broker closes the connection)' });
            continue;
          }
          if (props.headers.some((h) => h.value.type === 'array' || h.value.type === 'table')) droppedByStream++;
        }
        const settle = tracker.sent(rec.position);
        const { outcome } = await publisher.publish(exchange, routingKey, body, opts, signal);
        outcomes.push(outcome.then((o) => settle(o.ok)));
        maybeCheckpoint();
        if (tracking) {
          const t: { position: bigint; hash: string; ok?: boolean } = { position: rec.position, hash: bodyHash(body) };
          tracking.sent.push(t);
          outcomes.push(outcome.then((o) => ((t.ok = o.ok), record(o))));
        } else outcomes.push(outcome.then(record));
        if (outcomes.length > 10_000) await Promise.all(outcomes.splice(0, 5_000));
      }
    }
    await Promise.all(outcomes);
  } finally {
    await publisher.close().catch(() => {});
  }
  progress.update({ stream: plan.target, records: qr.restored + qr.failed, total: plan.records });
  if (tracking) {
    const confirmed = tracking.sent.filter((t) => t.ok);
    let i = 0;
    const name = plan.entries[0]?.name ?? plan.source;
    if (confirmed.length > 0) {
      progress.phase(`reading ${plan.target} back from offset ${tracking.start} for the offset map`);
      await scanStream(
        conn,
        plan.target,
        tracking.start,
        (offset, content) => {
          const want = confirmed[i]!;
          // other publishers' messages may be interleaved: skip what is not ours
          if (bodyHash(content) === want.hash) {
            result.offsetMap.push({ stream: name, source: plan.source, target: plan.target, sourceOffset: want.position.toString(), targetOffset: offset.toString() });
            i++;
          }
          return i < confirmed.length;
        },
        { signal },
      );
    }
    if (i < confirmed.length) {
      result.warnings.push(`queue ${plan.source}: the offset map covers ${i} of ${confirmed.length} restored messages (the rest were not found reading ${plan.target} back)`);
    }
  }
  for (const p of problems) result.warnings.push(`queue ${plan.source}: ${p}`);
  if (droppedByStream > 0) {
    result.warnings.push(`queue ${plan.source}: ${droppedByStream} message(s) have array or table headers, which the stream queue ${plan.target} does not keep`);
  }
  if (clusterIdDropped > 0) {
    result.warnings.push(`queue ${plan.source}: ${clusterIdDropped} message(s) had the deprecated cluster-id property, which amqplib cannot send: left out`);
  }
}

function bodyHash(b: Buffer): string {
  return createHash('sha1').update(b).digest('base64');
}

function containsDecimal(v: AmqpValue): boolean {
  if (v.type === 'decimal') return true;
  if (v.type === 'array') return v.value.some(containsDecimal);
  if (v.type === 'table') return v.value.some((f) => containsDecimal(f.value));
  return false;
}
