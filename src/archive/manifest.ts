import { createHash } from 'node:crypto';
import { MqbakError, messageOf } from '../common/errors.js';
import { canonicalJson } from '../common/canonical-json.js';
import { isBackupId } from './keys.js';
import { upgradeV1, V1_STREAM_FIELDS, v1BrokerOk, v1StreamProblems } from './manifest-v1.js';
/**
 * The manifest: the JSON object that commits a backup (docs/FORMAT.md, "Manifest").
 * Written last; a backup without one does not exist. The archive knows no broker: a stream's
 * address and the metadata are plain JSON owned by the adapter named in source.broker.
 */
export const FORMAT_VERSION = 2;
/** The version of manifests written to an encrypted store: sealed, their segments' blocks sealed (docs/FORMAT.md 9). */
export const ENCRYPTED_FORMAT_VERSION = 3;
/**
 * The version of a cut (docs/FORMAT.md 11, docs/RETENTION.md "Cutting old data"): a full backup made
 * from an existing chain without reading the broker, whose segments belong to older backups; in
 * the clear in a plain store, sealed in an encrypted one.
 */
export const CUT_FORMAT_VERSION = 4;
/** The newest version this mqbak reads. */
export const NEWEST_FORMAT_VERSION = 4;

export type BackupKind = 'full' | 'incremental';

/**
 * Where a stream lives on its broker, as its adapter describes it (Kafka {topic, partition},
 * RabbitMQ {vhost, queue, queueType}): the same shape as src/brokers/adapter.ts's StreamAddress,
 * declared here because the archive imports nothing from the brokers.
 */
export type StreamAddress = Readonly<Record<string, string | number | boolean | null>>;

export interface Manifest {
  format: 'mqbak';
  version: number;
  /** Sortable by time: yyyymmddThhmmssSSSZ-xxxxxx (UTC, then 6 random hex digits). */
  id: string;
  kind: BackupKind;
  /** The parent's id and the SHA-256 (hex) of the parent's manifest bytes; null for a full. */
  parent: { id: string; sha256: string } | null;
  source: SourceDescription;
  streams: StreamEntry[];
  /** Broker metadata as the adapter provides it (topic configs, group offsets, definitions). */
  metadata: Record<string, unknown>;
  tool: { name: 'mqbak'; version: string };
  startedAt: string; // ISO 8601
  endedAt: string; // ISO 8601
  /** Things the user was warned about while the backup ran (retention gaps, duplicates...). */
  warnings: string[];
  /** Version 4 only: the backup this cut was made of, and the time before which records were left out. */
  cut?: { of: string; before: string };
}

export interface SourceDescription {
  /** The adapter that wrote the backup: 'kafka', 'rabbitmq'. */
  broker: string;
  /** The source URL with credentials removed (user kept, password never). */
  url: string;
  /**
   * What makes two backups part of the same chain: same broker cluster and the same set of
   * streams (e.g. "kafka:<cluster id>:orders,payments"). Incrementals only follow a parent whose
   * chainKey is equal.
   */
  chainKey: string;
  /** Adapter-specific facts about how the data was read (isolation level, mode...). */
  options: Record<string, unknown>;
}

export interface StreamEntry {
  /** Unique within a backup and stable across a chain: "kafka/<topic>/<partition>". */
  name: string;
  /** Where the stream lives on the source broker, owned by the adapter (source.broker). */
  address: StreamAddress;
  /** Position range covered: from (inclusive) to (exclusive), decimal strings. */
  from: string;
  to: string;
  records: number;
  segments: SegmentEntry[];
  /** Ranges [from, to) that the source no longer had (retention) when they were read. */
  gaps: Array<{ from: string; to: string; reason: string }>;
  /** Adapter-specific per-stream facts (e.g. {"mayDuplicatePrevious": true} after a drain crash). */
  extra: Record<string, unknown>;
}

export interface SegmentEntry {
  key: string;
  bytes: number;
  sha256: string;
  records: number;
  firstPosition: string;
  lastPosition: string;
  firstTimestamp: number | null;
  lastTimestamp: number | null;
}

// ---------------------------------------------------------------------------------------------
// Stored form (docs/FORMAT.md, "Manifest"): canonical JSON (keys sorted, 2-space indent, "\n" at
// the end) of the manifest plus a "checksum" field, "sha256:" + the SHA-256 of the canonical JSON
// of the manifest without that field. Readers re-serialize what they parsed and require the same
// bytes, so that no byte of a manifest can change unnoticed, even in the newest backup of a chain
// (which no child's parent.sha256 covers yet).

export function sha256Hex(bytes: Uint8Array | readonly Uint8Array[]): string {
  const h = createHash('sha256');
  if (bytes instanceof Uint8Array) h.update(bytes);
  else for (const b of bytes) h.update(b);
  return h.digest('hex');
}

const utf8 = new TextEncoder();

function canonicalText(value: unknown): string {
  return `${canonicalJson(value, 2)}\n`;
}

/** The bytes a manifest is stored as. */
export function serializeManifest(manifest: Manifest): Uint8Array {
  // version 3 is version 2's manifest, stored sealed: the same rules; version 4 adds the cut
  const version = manifest.version === ENCRYPTED_FORMAT_VERSION || manifest.version === CUT_FORMAT_VERSION ? manifest.version : FORMAT_VERSION;
  const problems = manifestProblems(manifest, version);
  if (problems.length > 0) throw new MqbakError('internal', `manifest ${manifest.id}: ${problems.join('; ')}`);
  let body: string;
  try {
    body = canonicalText(manifest);
  } catch (e) {
    throw new MqbakError('internal', `manifest ${manifest.id}: ${messageOf(e)}`);
  }
  const checksum = `sha256:${sha256Hex(utf8.encode(body))}`;
  return utf8.encode(canonicalText({ ...manifest, checksum }));
}

/**
 * Parses and validates stored manifest bytes. Throws MqbakError 'unsupported' for a newer format
 * version and 'integrity' for anything else wrong (`context` starts the message). A version 1
 * manifest is checked by the version 1 rules on its stored bytes, then upgraded in memory
 * (manifest-v1.ts): the result keeps `version: 1`, so it cannot be serialized again by mistake.
 */
export function parseManifest(bytes: Uint8Array, context = 'manifest'): Manifest {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new MqbakError('integrity', `${context}: not UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new MqbakError('integrity', `${context}: not JSON (${messageOf(e)})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MqbakError('integrity', `${context}: not a JSON object`);
  const obj = parsed as Record<string, unknown>;
  if (obj.format !== 'mqbak') throw new MqbakError('integrity', `${context}: not an mqbak manifest (format ${JSON.stringify(obj.format)})`);
  // the version decides how to read the rest, so it is checked before anything else
  if (typeof obj.version !== 'number' || !Number.isInteger(obj.version) || obj.version < 1) {
    throw new MqbakError('integrity', `${context}: bad format version ${JSON.stringify(obj.version)}`);
  }
  if (obj.version > NEWEST_FORMAT_VERSION) {
    throw new MqbakError('unsupported', `${context}: archive format version ${obj.version} is newer than this mqbak supports (${NEWEST_FORMAT_VERSION})`, {
      hint: 'upgrade mqbak to read this backup',
    });
  }
  const { checksum, ...rest } = obj;
  if (typeof checksum !== 'string') throw new MqbakError('integrity', `${context}: no checksum field`);
  let canonical: string;
  try {
    canonical = canonicalText(parsed);
  } catch (e) {
    throw new MqbakError('integrity', `${context}: ${messageOf(e)}`);
  }
  if (canonical !== text) throw new MqbakError('integrity', `${context}: not in canonical form (edited or damaged)`);
  const expected = `sha256:${sha256Hex(utf8.encode(canonicalText(rest)))}`;
  if (checksum !== expected) throw new MqbakError('integrity', `${context}: checksum mismatch (edited or damaged)`);
  const problems = manifestProblems(rest, obj.version);
  if (problems.length > 0) throw new MqbakError('integrity', `${context}: ${problems.slice(0, 5).join('; ')}`);
  return (obj.version === 1 ? upgradeV1(rest) : rest) as unknown as Manifest;
}

const DEC = /^(0|-?[1-9][0-9]*)$/;
const HEX64 = /^[0-9a-f]{64}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isDec(v: unknown): v is string {
  if (typeof v !== 'string' || !DEC.test(v)) return false;
  const b = BigInt(v);
  return b >= INT64_MIN && b <= INT64_MAX;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function isIso(v: unknown): boolean {
  return typeof v === 'string' && !Number.isNaN(Date.parse(v));
}

function isAddress(v: unknown): boolean {
  return isObj(v) && Object.values(v).every((x) => x === null || typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x)));
}

/**
 * Every structural problem of a manifest object (empty when valid), by the rules of format
 * `version` (the current one unless reading an old manifest's stored form).
 */
export function manifestProblems(m: unknown, version: number = FORMAT_VERSION): string[] {
  const p: string[] = [];
  if (!isObj(m)) return ['not an object'];
  if (m.format !== 'mqbak') p.push('format is not "mqbak"');
  if (m.version !== version) p.push(`version ${String(m.version)} is not ${version}`);
  if (typeof m.id !== 'string' || !isBackupId(m.id)) p.push(`bad id ${JSON.stringify(m.id)}`);
  if (m.kind !== 'full' && m.kind !== 'incremental') p.push(`bad kind ${JSON.stringify(m.kind)}`);
  if (m.kind === 'full' && m.parent !== null) p.push('a full backup has a parent');
  if (m.kind === 'incremental') {
    if (!isObj(m.parent) || typeof m.parent.id !== 'string' || !isBackupId(m.parent.id) || typeof m.parent.sha256 !== 'string' || !HEX64.test(m.parent.sha256)) {
      p.push('an incremental backup needs parent {id, sha256}');
    } else if (typeof m.id === 'string' && m.parent.id >= m.id) {
      p.push(`parent ${m.parent.id} is not older than ${m.id}`);
    }
  }
  const s = m.source;
  const brokerOk = isObj(s) && (version === 1 ? v1BrokerOk(s.broker) : typeof s.broker === 'string' && s.broker.length > 0);
  if (!isObj(s) || !brokerOk || typeof s.url !== 'string' || typeof s.chainKey !== 'string' || !isObj(s.options)) {
    p.push('bad source');
  }
  if (!isObj(m.metadata)) p.push('metadata is not an object');
  if (!isObj(m.tool) || m.tool.name !== 'mqbak' || typeof m.tool.version !== 'string') p.push('bad tool');
  if (!isIso(m.startedAt)) p.push('bad startedAt');
  if (!isIso(m.endedAt)) p.push('bad endedAt');
  if (!Array.isArray(m.warnings) || !m.warnings.every((w) => typeof w === 'string')) p.push('bad warnings');
  if (version === CUT_FORMAT_VERSION) {
    const c = m.cut;
    if (!isObj(c) || typeof c.of !== 'string' || !isBackupId(c.of) || !isIso(c.before)) p.push('a version 4 manifest needs cut {of, before}');
    else if (typeof m.id === 'string' && c.of >= m.id) p.push(`cut of ${c.of}, which is not older than ${m.id}`);
    if (m.kind !== 'full') p.push('a cut is a full backup');
  } else if (m.cut !== undefined) p.push(`a version ${String(m.version)} manifest has no cut`);
  if (!Array.isArray(m.streams)) {
    p.push('streams is not an array');
    return p;
  }
  const names = new Set<string>();
  const keys = new Set<string>();
  m.streams.forEach((st: unknown, i: number) => {
    const at = `streams[${i}]`;
    if (!isObj(st)) {
      p.push(`${at} is not an object`);
      return;
    }
    if (typeof st.name !== 'string' || st.name.length === 0) p.push(`${at}: bad name`);
    else if (names.has(st.name)) p.push(`${at}: duplicate stream ${st.name}`);
    else names.add(st.name);
    if (version === 1) {
      p.push(...v1StreamProblems(st, at));
    } else {
      if (!isAddress(st.address)) p.push(`${at}: bad address (a JSON object of strings, numbers, booleans and nulls)`);
      for (const old of V1_STREAM_FIELDS) if (st[old] !== undefined) p.push(`${at}: has the version 1 field ${old}`);
    }
    if (!isDec(st.from) || !isDec(st.to) || BigInt(st.to as string) < BigInt(st.from as string)) p.push(`${at}: bad range from ${String(st.from)} to ${String(st.to)}`);
    if (!isCount(st.records)) p.push(`${at}: bad records`);
    if (!Array.isArray(st.gaps) || !st.gaps.every((g) => isObj(g) && isDec(g.from) && isDec(g.to) && typeof g.reason === 'string')) p.push(`${at}: bad gaps`);
    if (!isObj(st.extra)) p.push(`${at}: extra is not an object`);
    if (!Array.isArray(st.segments)) {
      p.push(`${at}: segments is not an array`);
      return;
    }
    let total = 0;
    let prevLast: bigint | null = null;
    st.segments.forEach((sg: unknown, j: number) => {
      const sat = `${at}.segments[${j}]`;
      if (!isObj(sg)) {
        p.push(`${sat} is not an object`);
        return;
      }
      if (typeof sg.key !== 'string' || sg.key.length === 0) p.push(`${sat}: bad key`);
      else if (keys.has(sg.key)) p.push(`${sat}: key ${sg.key} used twice`);
      else keys.add(sg.key);
      if (!isCount(sg.bytes)) p.push(`${sat}: bad bytes`);
      if (typeof sg.sha256 !== 'string' || !HEX64.test(sg.sha256)) p.push(`${sat}: bad sha256`);
      if (!isCount(sg.records) || sg.records === 0) p.push(`${sat}: bad records`);
      else total += sg.records;
      if (!isDec(sg.firstPosition) || !isDec(sg.lastPosition)) {
        p.push(`${sat}: bad positions`);
      } else {
        const first = BigInt(sg.firstPosition);
        const last = BigInt(sg.lastPosition);
        if (last < first) p.push(`${sat}: last position before first`);
        if (prevLast !== null && first <= prevLast) p.push(`${sat}: positions overlap the previous segment`);
        if (isDec(st.from) && first < BigInt(st.from)) p.push(`${sat}: first position before the stream's from`);
        if (isDec(st.to) && last >= BigInt(st.to)) p.push(`${sat}: last position not before the stream's to`);
        if (isCount(sg.records) && BigInt(sg.records) > last - first + 1n) p.push(`${sat}: more records than positions`);
        prevLast = last;
      }
      for (const f of ['firstTimestamp', 'lastTimestamp'] as const) {
        if (sg[f] !== null && !(typeof sg[f] === 'number' && Number.isSafeInteger(sg[f]))) p.push(`${sat}: bad ${f}`);
      }
    });
    if (isCount(st.records) && total !== st.records) p.push(`${at}: records ${st.records} but its segments hold ${total}`);
  });
  return p;
}
