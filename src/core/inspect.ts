/**
 * What list, show and cat need: summaries of backups and records as plain JSON-ready values.
 * Never prints; the CLI renders.
 */
import { adapterNamed } from '../brokers/registry.js';
import { MqbakError, withContext } from '../common/errors.js';
import type { ArchiveRecord } from '../common/record.js';
import type { Manifest, StreamEntry } from '../archive/manifest.js';
import { backupIdTime } from '../archive/keys.js';
import { canonicalJson } from '../common/canonical-json.js';
import type { Store } from '../stores/store.js';
import { listBackupIds, loadManifest, readStream, type LoadedManifest } from './backup-reader.js';

export interface BackupSummary {
  id: string;
  kind: 'full' | 'incremental' | null;
  /** The parent's id, or null. */
  parent: string | null;
  /** The id of the full backup the chain starts with; null when the chain is broken. */
  chain: string | null;
  createdAt: string | null;
  endedAt: string | null;
  broker: string | null;
  source: string | null;
  chainKey: string | null;
  streams: number | null;
  records: number | null;
  /** Stored bytes of its segments. */
  bytes: number | null;
  sha256: string | null;
  warnings: number | null;
  /** Why the manifest could not be read (then most fields are null). */
  error?: string;
}

/** Every backup in the store, oldest first; unreadable manifests are listed with `error`. */
export async function listSummaries(store: Store, options: { signal?: AbortSignal } = {}): Promise<BackupSummary[]> {
  const ids = await listBackupIds(store, options);
  const loaded = new Map<string, LoadedManifest>();
  const out: BackupSummary[] = [];
  for (const id of ids) {
    try {
      const l = await loadManifest(store, id, options);
      loaded.set(id, l);
      out.push(summarize(l));
    } catch (e) {
      if (!(e instanceof MqbakError) || (e.code !== 'integrity' && e.code !== 'unsupported' && e.code !== 'not-found')) throw e;
      out.push({
        id,
        kind: null,
        parent: null,
        chain: null,
        createdAt: backupIdTime(id),
        endedAt: null,
        broker: null,
        source: null,
        chainKey: null,
        streams: null,
        records: null,
        bytes: null,
        sha256: null,
        warnings: null,
        error: e.message,
      });
    }
  }
  // chain roots, following parents that are present, readable and hash-equal
  for (const s of out) {
    let cur = loaded.get(s.id);
    const seen = new Set<string>();
    while (cur && cur.manifest.parent && !seen.has(cur.manifest.id)) {
      seen.add(cur.manifest.id);
      const p = loaded.get(cur.manifest.parent.id);
      cur = p && p.sha256 === cur.manifest.parent.sha256 ? p : undefined;
    }
    s.chain = cur && cur.manifest.kind === 'full' ? cur.manifest.id : null;
  }
  return out;
}

export function summarize(l: LoadedManifest): BackupSummary {
  const m = l.manifest;
  return {
    id: m.id,
    kind: m.kind,
    parent: m.parent?.id ?? null,
    chain: null,
    createdAt: m.startedAt,
    endedAt: m.endedAt,
    broker: m.source.broker,
    source: m.source.url,
    chainKey: m.source.chainKey,
    streams: m.streams.length,
    records: m.streams.reduce((n, s) => n + s.records, 0),
    bytes: m.streams.reduce((n, s) => n + s.segments.reduce((k, g) => k + g.bytes, 0), 0),
    sha256: l.sha256,
    warnings: m.warnings.length,
  };
}

/** The streams of a manifest that `name` selects (all when undefined); unknown name: 'not-found'. */
export function selectStreams(m: Manifest, name: string | undefined): StreamEntry[] {
  if (name === undefined) return m.streams;
  const s = m.streams.find((x) => x.name === name);
  if (!s) {
    const names = m.streams.map((x) => x.name);
    throw new MqbakError('not-found', `backup ${m.id} has no stream ${name}`, {
      hint: names.length ? `its streams: ${names.slice(0, 10).join(', ')}${names.length > 10 ? ', ...' : ''}` : 'it holds no streams',
    });
  }
  return [s];
}

/** Bytes as text when they are valid UTF-8, else {"base64": ...}; null stays null. */
export type JsonBytes = string | { base64: string } | null;

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function bytesToJson(b: Uint8Array | null): JsonBytes {
  if (b === null) return null;
  try {
    return strictUtf8.decode(b);
  } catch {
    return { base64: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64') };
  }
}

export interface RecordJson {
  stream: string;
  position: string;
  timestamp: number | null;
  timestampType: string | null;
  key: JsonBytes;
  value: JsonBytes;
  headers: Array<{ name: string; value: JsonBytes }>;
  /** The record's attributes, under the key its adapter names (RabbitMQ: amqp). */
  [attributesKey: string]: unknown;
}

/** `attributesKey`: where the record's adapter-owned attributes go (BrokerAdapter.attributesKey). */
export function recordToJson(stream: string, r: ArchiveRecord, attributesKey = 'attributes'): RecordJson {
  const out: RecordJson = {
    stream,
    position: r.position.toString(),
    timestamp: r.timestamp,
    timestampType: r.timestampType,
    key: bytesToJson(r.key),
    value: bytesToJson(r.value),
    headers: r.headers.map((h) => ({ name: h.name, value: bytesToJson(h.value) })),
  };
  // through the archive's own JSON form (keys sorted): NaN and ±Infinity float headers stay visible
  if (r.attributes !== null) out[attributesKey] = JSON.parse(canonicalJson(r.attributes));
  return out;
}

/** The records of one backup (not its chain), checked as the reader checks them. */
export async function* catRecords(
  store: Store,
  id: string,
  options: { stream?: string; limit?: number; signal?: AbortSignal } = {},
): AsyncGenerator<RecordJson> {
  const { manifest } = await loadManifest(store, id, options);
  // the key the backup's adapter shows its records' attributes under (RabbitMQ: amqp)
  const attributesKey = (await adapterNamed(manifest.source.broker))?.attributesKey ?? 'attributes';
  const streams = selectStreams(manifest, options.stream);
  let n = 0;
  if (options.limit !== undefined && options.limit <= 0) return;
  for (const s of streams) {
    try {
      for await (const r of readStream(store, s, { signal: options.signal })) {
        yield recordToJson(s.name, r, attributesKey);
        if (options.limit !== undefined && ++n >= options.limit) return;
      }
    } catch (e) {
      throw withContext(e, `backup ${id}, stream ${s.name}`);
    }
  }
}
