/**
 * verify: checks backups end to end and collects every finding instead of stopping at the first
 * (after restic's `check`). Never prints; the CLI renders the result.
 */
import { availableParallelism } from 'node:os';
import { MqbakError, throwIfAborted, withContext } from '../common/errors.js';
import { silentProgress, type Progress } from '../common/progress.js';
import { sha256Hex, type Manifest, type SegmentEntry } from '../archive/manifest.js';
import { idOfManifestKey, idOfSegmentKey, manifestKey, MANIFESTS_PREFIX, SEGMENTS_PREFIX, segmentsPrefix } from '../archive/keys.js';
import { recyclingZstdCodec, type BlockCodec } from '../archive/codec.js';
import { scanSegment } from '../archive/segment-reader.js';
import { workerScanCodec } from '../archive/zstd-pool.js';
import { decodeStoredManifest } from '../archive/stored-manifest.js';
import { masterKeyOf, segmentSealing } from '../archive/encryption/store-key.js';
import { StoreNotFoundError, type Store } from '../stores/store.js';
import { CheckedSegments, listBackupIds } from './backup-reader.js';
import { describeSubset, readsSegment, type DataSubset } from './verify-subset.js';

/** Every finding kind, for counts that show zeros too (metrics). */
export const FINDING_KINDS = [
  'invalid-manifest',
  'unsupported-version',
  'missing-parent',
  'parent-hash-mismatch',
  'missing-segment',
  'size-mismatch',
  'sha-mismatch',
  'bad-block',
  'count-mismatch',
  'position-mismatch',
  'unreferenced-segment',
  'unknown-object',
] as const satisfies readonly FindingKind[];

export type FindingKind =
  | 'invalid-manifest' // not JSON, not canonical, checksum mismatch, or structurally wrong
  | 'unsupported-version' // written by a newer mqbak
  | 'missing-parent' // an incremental's parent manifest is not in the store
  | 'parent-hash-mismatch' // the parent's manifest bytes are not the ones the child recorded
  | 'missing-segment'
  | 'size-mismatch'
  | 'sha-mismatch'
  | 'bad-block' // a block header, length, CRC-32, zstd frame or record that does not decode
  | 'count-mismatch' // records in the segment differ from the manifest's count
  | 'position-mismatch' // first/last position or timestamp differ from the manifest
  | 'unreferenced-segment' // no manifest refers to it (an interrupted backup): a warning
  | 'unknown-object'; // an object under manifests/ or segments/ with a name mqbak never writes: a warning

export interface Finding {
  kind: FindingKind;
  /** 'error' findings fail verify (exit 4); 'warning' findings are reported only. */
  severity: 'error' | 'warning';
  /** The backup concerned, when there is one. */
  backup: string | null;
  stream?: string;
  /** The object concerned (segment or manifest key). */
  key?: string;
  message: string;
}

export interface VerifyResult {
  ok: boolean;
  findings: Finding[];
  checked: {
    backups: number;
    /** Segments read in full (size, SHA-256, every block and record). */
    segments: number;
    records: number;
    bytes: number;
    /** --read-data-subset as given ('all' without it). */
    subset: string;
    /** Segments of the checked backups that the subset left unread: only their presence and listed size were checked. */
    segmentsNotRead: number;
    bytesNotRead: number;
  };
  /** The segments read in full with no finding, by key and SHA-256 (what a restore's preflight checked). */
  whole: CheckedSegments;
}

export interface VerifyOptions {
  /** Which segments are read in full (--read-data-subset); the others are checked by their listed size only. Default all. */
  subset?: DataSubset;
  /** One backup and its chain; default every backup in the store. */
  id?: string;
  signal?: AbortSignal;
  progress?: Progress;
  codec?: BlockCodec;
  /**
   * Without `codec`: with a second core, one worker thread decompresses (and CRC-checks) the next
   * block while this thread scans one (`mqbak verify`, a restore's preflight: the worker ends with
   * the verify, before the restore's peak memory). Default false.
   */
  worker?: boolean;
  /** Only these streams' segments (by stream name); default every stream. Manifests and chains are checked whole. */
  streams?: ReadonlySet<string>;
  /** false: no segment is read, each is checked for presence and listed size only (restore --preflight sizes). Default true. */
  readData?: boolean;
}

/** A finding as verify prints it, one line (restore's preflight prints them so too). */
export function findingLine(f: Finding): string {
  return `${f.severity}: ${f.kind}: ${f.message}`;
}

/**
 * Why a segment key is not one the manifest may refer to, or null: a manifest must not make a
 * reader fetch an arbitrary object or leave the store. Its own backup's (segments/<id>/, with no
 * empty, `.` or `..` part); a cut's (format 4, docs/FORMAT.md 11) also those of older backups.
 */
export function segmentKeyProblem(manifest: Pick<Manifest, 'id' | 'cut'>, key: string): string | null {
  const prefix = segmentsPrefix(manifest.id);
  const parts = key.split('/');
  const owner = idOfSegmentKey(key);
  const ownerOk = key.startsWith(prefix) || (manifest.cut !== undefined && owner !== null && owner < manifest.id);
  if (!ownerOk || parts.some((p) => p === '' || p === '.' || p === '..') || key.includes('\\') || key.includes('\0')) {
    return manifest.cut === undefined
      ? `segment key ${JSON.stringify(key)} is outside the backup's own ${prefix}`
      : `segment key ${JSON.stringify(key)} is not a segment of this cut's older backups`;
  }
  return null;
}

interface Loaded {
  manifest: Manifest;
  sha256: string;
}

export async function verifyStore(store: Store, options: VerifyOptions = {}): Promise<VerifyResult> {
  if (options.codec !== undefined) return verifyWith(store, options, options.codec);
  // nothing of a block is kept once the scan has gone on: its buffers can be used again
  // (docs/PERFORMANCE.md, "verify")
  if (options.worker !== true || availableParallelism() < 2) return verifyWith(store, options, recyclingZstdCodec());
  const codec = workerScanCodec();
  try {
    return await verifyWith(store, options, codec);
  } finally {
    await codec.close();
  }
}

async function verifyWith(store: Store, options: VerifyOptions, codec: BlockCodec): Promise<VerifyResult> {
  const { signal } = options;
  const progress = options.progress ?? silentProgress;
  const findings: Finding[] = [];
  const subset = options.subset ?? { kind: 'all' };
  const readData = options.readData ?? true;
  const whole = new CheckedSegments();
  const checked = { backups: 0, segments: 0, records: 0, bytes: 0, subset: readData ? describeSubset(subset) : 'none', segmentsNotRead: 0, bytesNotRead: 0 };
  const add = (f: Omit<Finding, 'severity'> & { severity?: Finding['severity'] }) => findings.push({ severity: 'error', ...f });

  const ids = await listBackupIds(store, { signal });
  const present = new Set(ids);
  if (options.id !== undefined && !present.has(options.id)) {
    throw new MqbakError('not-found', `backup ${options.id} not found in ${store.description}`, { hint: 'see mqbak list' });
  }
  if (ids.length === 0) {
    throw new MqbakError('not-found', `no backups in ${store.description}`, { hint: 'check the store path or URL' });
  }

  const loaded = new Map<string, Loaded>();
  /** ids whose manifest exists but could not be read: their segments are not "unreferenced" */
  const unreadable = new Set<string>();
  const load = async (id: string): Promise<Loaded | null> => {
    if (loaded.has(id)) return loaded.get(id)!;
    if (unreadable.has(id)) return null;
    const key = manifestKey(id);
    let bytes: Uint8Array;
    try {
      bytes = await store.get(key, { signal });
    } catch (e) {
      if (e instanceof StoreNotFoundError) return null;
      throw withContext(e, `read manifest ${key}`, 'unreachable');
    }
    try {
      const manifest = decodeStoredManifest(bytes, id, masterKeyOf(store), `manifest ${key}`);
      if (manifest.id !== id) throw new MqbakError('integrity', `manifest ${key}: holds backup id ${manifest.id}`);
      const l = { manifest, sha256: sha256Hex(bytes) };
      loaded.set(id, l);
      return l;
    } catch (e) {
      // no password for an encrypted store is the user's to fix, not a finding
      if (!(e instanceof MqbakError) || e.code === 'usage') throw e;
      unreadable.add(id);
      add({ kind: e.code === 'unsupported' ? 'unsupported-version' : 'invalid-manifest', backup: id, key, message: e.message });
      return null;
    }
  };

  // which backups: all, or the one asked for and its ancestors
  const targets: string[] = [];
  if (options.id === undefined) {
    targets.push(...ids);
    for (const id of ids) await load(id);
  } else {
    for (let id: string | null = options.id; id !== null; ) {
      targets.push(id);
      const l = await load(id);
      const parent: { id: string; sha256: string } | null = l?.manifest.parent ?? null;
      if (parent === null || !present.has(parent.id) || targets.includes(parent.id)) break;
      id = parent.id;
    }
  }

  // the chain links
  for (const id of targets) {
    const l = loaded.get(id);
    const parent = l?.manifest.parent;
    if (!l || !parent) continue;
    if (!present.has(parent.id)) {
      add({ kind: 'missing-parent', backup: id, key: manifestKey(parent.id), message: `backup ${id}: its parent ${parent.id} is missing` });
      continue;
    }
    const p = loaded.get(parent.id);
    if (!p) continue; // reported as invalid-manifest already
    if (p.sha256 !== parent.sha256) {
      add({
        kind: 'parent-hash-mismatch',
        backup: id,
        key: manifestKey(parent.id),
        message: `backup ${id}: parent ${parent.id} has SHA-256 ${p.sha256}, the child recorded ${parent.sha256}`,
      });
    }
    if (p.manifest.source.chainKey !== l.manifest.source.chainKey) {
      add({ kind: 'invalid-manifest', backup: id, message: `backup ${id}: chain key differs from its parent ${parent.id}'s` });
    }
  }

  // what the store holds: objects nothing refers to, and the sizes of the segments not read
  const referenced = new Set<string>();
  for (const l of loaded.values()) for (const s of l.manifest.streams) for (const g of s.segments) referenced.add(g.key);
  const listed = new Map<string, number>();
  // a cut (format 4) refers to segments of older backups: their folders are listed too
  const owners = (id: string) => [id, ...(loaded.get(id)?.manifest.streams.flatMap((s) => s.segments.map((g) => idOfSegmentKey(g.key) ?? id)) ?? [])];
  const scopes = options.id === undefined ? [SEGMENTS_PREFIX] : [...new Set(targets.flatMap(owners))].map((id) => segmentsPrefix(id));
  for (const prefix of scopes) {
    try {
      for await (const o of store.list(prefix, { signal })) {
        listed.set(o.key, o.size);
        if (referenced.has(o.key)) continue;
        const owner = idOfSegmentKey(o.key);
        // with --id, the folders of older backups a cut refers to are listed for sizes only
        if (options.id !== undefined && owner !== null && !targets.includes(owner)) continue;
        if (owner === null) {
          add({ kind: 'unknown-object', severity: 'warning', backup: null, key: o.key, message: `object ${o.key}: not a name mqbak writes` });
        } else if (!unreadable.has(owner)) {
          add({
            kind: 'unreferenced-segment',
            severity: 'warning',
            backup: owner,
            key: o.key,
            message: present.has(owner)
              ? `segment ${o.key}: not referenced by the manifest of backup ${owner}`
              : `segment ${o.key}: no manifest refers to it (left by an interrupted backup ${owner}; nothing deletes it)`,
          });
        }
      }
    } catch (e) {
      throw withContext(e, `list ${prefix} in ${store.description}`, 'unreachable');
    }
  }
  // which segments are read, decided before the first is (a percentage draws once per segment,
  // in order), so that the next one's bytes are on their way while one is being checked
  const toRead: SegmentEntry[] = [];
  for (const id of targets) {
    const l = loaded.get(id);
    for (const stream of l?.manifest.streams ?? []) {
      if (options.streams !== undefined && !options.streams.has(stream.name)) continue;
      for (const seg of stream.segments) {
        if (readData && segmentKeyProblem(l!.manifest, seg.key) === null && readsSegment(subset, seg.key)) toRead.push(seg);
      }
    }
  }
  const reads = new Set(toRead);
  const fetched = new Map<SegmentEntry, Promise<Uint8Array>>();
  const fetchAhead = (i: number): void => {
    const seg = toRead[i];
    if (seg === undefined || fetched.has(seg)) return;
    const bytes = store.get(seg.key, { signal });
    bytes.catch(() => {}); // its error is the segment's finding, when its turn comes
    fetched.set(seg, bytes);
  };
  let turn = 0;
  // every segment of every target
  for (const id of targets) {
    const l = loaded.get(id);
    if (!l) continue;
    checked.backups++;
    progress.phase(`verifying backup ${id}`);
    for (const stream of l.manifest.streams) {
      if (options.streams !== undefined && !options.streams.has(stream.name)) continue;
      for (const seg of stream.segments) {
        throwIfAborted(signal);
        const outside = segmentKeyProblem(l.manifest, seg.key);
        if (outside !== null) {
          add({ kind: 'invalid-manifest', backup: id, stream: stream.name, key: manifestKey(id), message: `backup ${id}: ${outside}` });
          continue;
        }
        if (!reads.has(seg)) {
          // left to another slice: present, and of the size the manifest states
          checked.segmentsNotRead++;
          checked.bytesNotRead += seg.bytes;
          const size = listed.get(seg.key);
          if (size === undefined) add({ kind: 'missing-segment', backup: id, stream: stream.name, key: seg.key, message: `segment ${seg.key}: missing` });
          else if (size !== seg.bytes) add({ kind: 'size-mismatch', backup: id, stream: stream.name, key: seg.key, message: `segment ${seg.key}: ${size} bytes, manifest says ${seg.bytes}` });
          continue;
        }
        fetchAhead(turn);
        fetchAhead(++turn);
        const bytes = fetched.get(seg) ?? store.get(seg.key, { signal });
        fetched.delete(seg);
        const f = await checkSegment(store, seg, bytes, codec);
        checked.segments++;
        checked.bytes += f.bytes;
        checked.records += f.records;
        for (const x of f.findings) add({ ...x, backup: id, stream: stream.name, key: seg.key });
        if (f.findings.length === 0) whole.add(seg);
        progress.update({ stream: stream.name, records: checked.records, bytes: checked.bytes });
      }
    }
  }

  if (options.id === undefined) {
    for await (const o of store.list(MANIFESTS_PREFIX, { signal })) {
      if (idOfManifestKey(o.key) === null) add({ kind: 'unknown-object', severity: 'warning', backup: null, key: o.key, message: `object ${o.key}: not a name mqbak writes` });
    }
  }
  return { ok: !findings.some((f) => f.severity === 'error'), findings, checked, whole };
}

interface SegmentCheck {
  bytes: number;
  records: number;
  findings: Array<Pick<Finding, 'kind' | 'message'>>;
}

/** Checks the segment `seg` whose bytes `fetched` reads from `store`. */
async function checkSegment(store: Store, seg: SegmentEntry, fetched: Promise<Uint8Array>, codec: BlockCodec): Promise<SegmentCheck> {
  const out: SegmentCheck = { bytes: 0, records: 0, findings: [] };
  const ctx = `segment ${seg.key}`;
  let bytes: Uint8Array;
  try {
    bytes = await fetched;
  } catch (e) {
    if (e instanceof StoreNotFoundError) {
      out.findings.push({ kind: 'missing-segment', message: `${ctx}: missing` });
      return out;
    }
    throw withContext(e, `read ${ctx}`, 'unreachable');
  }
  out.bytes = bytes.length;
  // decode regardless of the hash, so that the finding can say where the damage is
  let records = 0;
  let first: { position: bigint; timestamp: number | null } | null = null;
  let last: { position: bigint; timestamp: number | null } | null = null;
  let decodeError: string | null = null;
  try {
    const mk = masterKeyOf(store);
    // every record is checked as a reader checks it, without being decoded into objects
    for await (const b of scanSegment(bytes, codec, ctx, undefined, mk === null ? null : segmentSealing(mk, seg.key))) {
      if (b.count === 0) continue;
      records += b.count;
      first ??= { position: b.firstPosition, timestamp: b.firstTimestamp };
      last = { position: b.lastPosition, timestamp: b.lastTimestamp };
    }
  } catch (e) {
    // a segment claiming to be sealed in a store opened without a key is damage here: the
    // manifest that lists it was read, so the store's key is not what is missing
    if (!(e instanceof MqbakError) || e.code === 'interrupted') throw e;
    decodeError = e.message;
  }
  out.records = records;
  const detail = decodeError ? ` (${decodeError.slice(ctx.length + 2)})` : '';
  if (bytes.length !== seg.bytes) {
    out.findings.push({ kind: 'size-mismatch', message: `${ctx}: ${bytes.length} bytes, manifest says ${seg.bytes}${detail}` });
    return out;
  }
  const sha = sha256Hex(bytes);
  if (sha !== seg.sha256) {
    out.findings.push({ kind: 'sha-mismatch', message: `${ctx}: SHA-256 ${sha}, manifest says ${seg.sha256}${detail}` });
    return out;
  }
  if (decodeError) {
    out.findings.push({ kind: 'bad-block', message: decodeError });
    return out;
  }
  if (records !== seg.records) out.findings.push({ kind: 'count-mismatch', message: `${ctx}: ${records} records, manifest says ${seg.records}` });
  const pos = (p: { position: bigint; timestamp: number | null } | null) => (p === null ? 'none' : p.position.toString());
  if (pos(first) !== seg.firstPosition || pos(last) !== seg.lastPosition) {
    out.findings.push({
      kind: 'position-mismatch',
      message: `${ctx}: positions ${pos(first)}..${pos(last)}, manifest says ${seg.firstPosition}..${seg.lastPosition}`,
    });
  } else if (first?.timestamp !== seg.firstTimestamp || last?.timestamp !== seg.lastTimestamp) {
    out.findings.push({
      kind: 'position-mismatch',
      message: `${ctx}: timestamps ${first?.timestamp}..${last?.timestamp}, manifest says ${seg.firstTimestamp}..${seg.lastTimestamp}`,
    });
  }
  return out;
}
