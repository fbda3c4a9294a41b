/**
 * Reads backups back, checking every length, checksum and hash before a record is handed on.
 * API contract shared by restore, cat and verify (docs/FORMAT.md, "Reader obligations").
 */
import type { ArchiveRecord, RecordColumns } from '../common/record.js';
import { sha256Hex, type Manifest, type SegmentEntry, type StreamEntry } from '../archive/manifest.js';
import { StoreNotFoundError, type Store } from '../stores/store.js';
import { MqbakError, throwIfAborted, withContext } from '../common/errors.js';
import { idOfManifestKey, isBackupId, manifestKey, MANIFESTS_PREFIX } from '../archive/keys.js';
import { zstdCodec, type BlockCodec } from '../archive/codec.js';
import { decodeStoredManifest } from '../archive/stored-manifest.js';
import { masterKeyOf, segmentSealing, type SegmentSealing } from '../archive/encryption/store-key.js';
import { decodeSegmentColumns, decodeSegmentObjects, type DecodedBlock, type SegmentExpectation } from '../archive/segment-reader.js';

export interface LoadedManifest {
  manifest: Manifest;
  /** SHA-256 (hex) of the manifest's stored bytes: what a child's parent.sha256 must equal. */
  sha256: string;
}

/** The ids of every manifest in the store, oldest first. */
export async function listBackupIds(store: Store, options: { signal?: AbortSignal } = {}): Promise<string[]> {
  const ids: string[] = [];
  try {
    for await (const o of store.list(MANIFESTS_PREFIX, { signal: options.signal })) {
      const id = idOfManifestKey(o.key);
      if (id !== null) ids.push(id);
    }
  } catch (e) {
    throw withContext(e, `list backups in ${store.description}`, 'unreachable');
  }
  return ids.sort();
}

/** All committed backups in the store, oldest first (ids sort by time). Invalid manifests throw 'integrity'. */
export async function listBackups(store: Store, options: { signal?: AbortSignal } = {}): Promise<LoadedManifest[]> {
  const out: LoadedManifest[] = [];
  for (const id of await listBackupIds(store, options)) out.push(await loadManifest(store, id, options));
  return out;
}

/** One manifest, validated. Unknown id: 'not-found'. Newer format version: 'unsupported'. */
export async function loadManifest(store: Store, id: string, options: { signal?: AbortSignal } = {}): Promise<LoadedManifest> {
  if (!isBackupId(id)) {
    throw new MqbakError('not-found', `backup ${JSON.stringify(id)} not found in ${store.description}`, {
      hint: 'backup ids look like 20261125T020000000Z-1a2b3c (see mqbak list)',
    });
  }
  const key = manifestKey(id);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key, { signal: options.signal });
  } catch (e) {
    if (e instanceof StoreNotFoundError) throw new MqbakError('not-found', `backup ${id} not found in ${store.description}`, { hint: 'see mqbak list' });
    throw withContext(e, `read manifest ${key}`, 'unreachable');
  }
  const manifest = decodeStoredManifest(bytes, id, masterKeyOf(store), `manifest ${key}`);
  if (manifest.id !== id) throw new MqbakError('integrity', `manifest ${key}: holds backup id ${manifest.id}`);
  return { manifest, sha256: sha256Hex(bytes) };
}

/**
 * The chain ending at `id` ('latest' = the newest backup in the store, optionally the newest
 * with this chainKey), full first. Checks every parent exists and its hash matches ('integrity').
 */
export async function resolveChain(
  store: Store,
  id: string | 'latest',
  options: { chainKey?: string; signal?: AbortSignal } = {},
): Promise<LoadedManifest[]> {
  let head: LoadedManifest;
  if (id === 'latest') {
    const latest = options.chainKey === undefined ? await newest(store, options) : await findLatest(store, options.chainKey, options);
    if (!latest) {
      throw new MqbakError('not-found', `no backup${options.chainKey === undefined ? '' : ` of ${options.chainKey}`} in ${store.description}`);
    }
    head = latest;
  } else {
    head = await loadManifest(store, id, options);
  }
  const chain = [head];
  let cur = head;
  while (cur.manifest.parent !== null) {
    throwIfAborted(options.signal);
    const parent = cur.manifest.parent;
    let loaded: LoadedManifest;
    try {
      loaded = await loadManifest(store, parent.id, options);
    } catch (e) {
      if (e instanceof MqbakError && e.code === 'not-found') {
        throw new MqbakError('integrity', `backup ${cur.manifest.id}: its parent ${parent.id} is missing from ${store.description}`, {
          hint: 'an incremental backup needs every backup of its chain; restore an older complete chain or take a --full backup',
        });
      }
      throw withContext(e, `backup ${cur.manifest.id}: parent ${parent.id}`);
    }
    if (loaded.sha256 !== parent.sha256) {
      throw new MqbakError('integrity', `backup ${cur.manifest.id}: parent ${parent.id} has SHA-256 ${loaded.sha256}, expected ${parent.sha256}`);
    }
    chain.push(loaded);
    cur = loaded;
  }
  if (cur.manifest.kind !== 'full') throw new MqbakError('integrity', `backup ${head.manifest.id}: its chain does not start with a full backup`);
  return chain.reverse();
}

async function newest(store: Store, options: { signal?: AbortSignal }): Promise<LoadedManifest | null> {
  const ids = await listBackupIds(store, options);
  const last = ids[ids.length - 1];
  return last === undefined ? null : loadManifest(store, last, options);
}

/**
 * The newest backup whose source.chainKey equals `chainKey`, or null: where an incremental
 * backup starts from.
 */
export async function findLatest(store: Store, chainKey: string, options: { signal?: AbortSignal } = {}): Promise<LoadedManifest | null> {
  const ids = await listBackupIds(store, options);
  for (let i = ids.length - 1; i >= 0; i--) {
    const m = await loadManifest(store, ids[i]!, options);
    if (m.manifest.source.chainKey === chainKey) return m;
  }
  return null;
}

/**
 * The records of one stream of one backup, in order. Each segment's size and SHA-256, each
 * block's length and checksum, record counts and positions are checked against the manifest;
 * any mismatch throws 'integrity' naming the segment. `fromPosition` skips earlier records.
 */
export async function* readStream(
  store: Store,
  stream: StreamEntry,
  options: { signal?: AbortSignal; fromPosition?: bigint; codec?: BlockCodec } = {},
): AsyncGenerator<ArchiveRecord> {
  for await (const batch of readStreamBatches(store, stream, options)) yield* batch;
}

/** readStream, a block's records at a time (no await per record). */
export async function* readStreamBatches(
  store: Store,
  stream: StreamEntry,
  options: { signal?: AbortSignal; fromPosition?: bigint; codec?: BlockCodec } = {},
): AsyncGenerator<ArchiveRecord[]> {
  const fp = options.fromPosition;
  for await (const b of readStreamWith(store, stream, options, decodeSegmentObjects)) {
    const batch = fp === undefined ? b.records : b.records.filter((r) => r.position >= fp);
    if (batch.length > 0) yield batch;
  }
}

/**
 * readStreamBatches, each block's records as columns over its raw bytes (no object per record),
 * with the same checks. Only for streams whose positions are exact as numbers
 * (streamFitsColumns); else 'integrity' is thrown.
 */
export async function* readStreamColumns(
  store: Store,
  stream: StreamEntry,
  options: { signal?: AbortSignal; codec?: BlockCodec; checked?: CheckedSegments } = {},
): AsyncGenerator<RecordColumns> {
  // the segments are read here and nowhere else: a sealed one's blocks are opened over its bytes
  const decode: SegmentDecoder<RecordColumns> = (bytes, codec, context, summary, sealing, expected, recheck) => decodeSegmentColumns(bytes, codec, context, summary, sealing, expected, true, recheck);
  for await (const b of readStreamWith(store, stream, options, decode)) if (b.count > 0) yield b.records;
}

/**
 * Segments whose stored bytes were read whole and passed every check of a reader (a restore's
 * `--preflight full`: verify.ts), each by its key and the SHA-256 of those bytes.
 *
 * Why a second read of such a segment may leave out the block CRC-32s and the record checks
 * (readStreamColumns): fetchSegment compares the size and SHA-256 of the bytes it reads with the
 * manifest entry on every read, and that entry's SHA-256 is the one the first read checked. Bytes
 * with the same SHA-256 are the same bytes, short of a SHA-256 collision, which no other check of
 * the format withstands either (a parent manifest is named by its hash alone); decompressing the
 * same frames gives the same blocks, so every CRC-32 and record check would give the answer it
 * gave the first time. Bytes changed in between fail the SHA-256 before any block is decoded. What
 * is still checked on the second read: size and SHA-256, block headers (their own CRC-32),
 * lengths, a sealed block's authentication, record framing and bounds, counts and positions
 * against the manifest entry and the stream's range.
 */
export class CheckedSegments {
  private readonly whole = new Set<string>();

  add(segment: Pick<SegmentEntry, 'key' | 'sha256'>): void {
    this.whole.add(`${segment.key} ${segment.sha256}`);
  }

  /** Whether bytes of this key with this SHA-256 were checked whole. */
  has(segment: Pick<SegmentEntry, 'key' | 'sha256'>): boolean {
    return this.whole.has(`${segment.key} ${segment.sha256}`);
  }

  get size(): number {
    return this.whole.size;
  }
}

/** Whether every position a stream may hold is an integer exact as a number (|p| < 2^53). */
export function streamFitsColumns(stream: StreamEntry): boolean {
  return BigInt(stream.from) > -(2n ** 53n) && BigInt(stream.to) <= 2n ** 53n;
}

type SegmentDecoder<T> = (
  bytes: Uint8Array,
  codec: BlockCodec,
  context: string,
  summary: undefined,
  sealing: SegmentSealing | null,
  expected: SegmentExpectation,
  /** false: these very bytes passed every check before (CheckedSegments) */
  recheck: boolean,
) => AsyncGenerator<DecodedBlock<T>>;

/** Where the blocks of the segment at `key` are sealed, when `store` was opened with its key. */
function sealingOf(store: Store, key: string): SegmentSealing | null {
  const mk = masterKeyOf(store);
  return mk === null ? null : segmentSealing(mk, key);
}

async function* readStreamWith<T>(
  store: Store,
  stream: StreamEntry,
  options: { signal?: AbortSignal; fromPosition?: bigint; codec?: BlockCodec; checked?: CheckedSegments },
  decode: SegmentDecoder<T>,
): AsyncGenerator<DecodedBlock<T>> {
  const from = BigInt(stream.from);
  const to = BigInt(stream.to);
  let total = 0;
  let skipped = false;
  for (const seg of stream.segments) {
    if (options.fromPosition !== undefined && BigInt(seg.lastPosition) < options.fromPosition) {
      skipped = true;
      continue;
    }
    // the size and SHA-256 are checked on every read, whatever was checked before
    const bytes = await fetchSegment(store, seg, options);
    const recheck = !(options.checked?.has(seg) ?? false);
    for await (const block of checkedBlocks(bytes, seg, options.codec ?? zstdCodec, options.signal, decode, sealingOf(store, seg.key), recheck)) {
      // positions strictly increase within a segment (checked): its first and last bound the rest
      if (block.count > 0) {
        for (const p of [block.firstPosition, block.lastPosition]) {
          if (p < from || p >= to) throw new MqbakError('integrity', `segment ${seg.key}: position ${p} is outside the stream's range [${from}, ${to})`);
        }
      }
      total += block.count;
      yield block;
    }
  }
  if (!skipped && total !== stream.records) {
    throw new MqbakError('integrity', `stream ${stream.name}: ${total} records, manifest says ${stream.records}`);
  }
}

/** Fetches a segment and checks its size and SHA-256 against the manifest entry. */
export async function fetchSegment(store: Store, segment: SegmentEntry, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await store.get(segment.key, { signal: options.signal });
  } catch (e) {
    if (e instanceof StoreNotFoundError) throw new MqbakError('integrity', `segment ${segment.key}: missing from ${store.description}`);
    throw withContext(e, `read segment ${segment.key}`, 'unreachable');
  }
  if (bytes.length !== segment.bytes) {
    throw new MqbakError('integrity', `segment ${segment.key}: ${bytes.length} bytes, manifest says ${segment.bytes}`);
  }
  const sha = sha256Hex(bytes);
  if (sha !== segment.sha256) throw new MqbakError('integrity', `segment ${segment.key}: SHA-256 ${sha}, manifest says ${segment.sha256}`);
  return bytes;
}

/** The records of one segment, checked as in readStream. */
export async function* readSegment(
  store: Store,
  segment: SegmentEntry,
  options: { signal?: AbortSignal; codec?: BlockCodec } = {},
): AsyncGenerator<ArchiveRecord> {
  const bytes = await fetchSegment(store, segment, options);
  yield* decodeCheckedSegment(bytes, segment, options.codec ?? zstdCodec, options.signal, sealingOf(store, segment.key));
}

/** Decodes bytes whose size and hash were checked, comparing counts and positions with the manifest entry. */
export async function* decodeCheckedSegment(
  bytes: Uint8Array,
  segment: SegmentEntry,
  codec: BlockCodec,
  signal?: AbortSignal,
  sealing: SegmentSealing | null = null,
): AsyncGenerator<ArchiveRecord> {
  for await (const batch of decodeCheckedSegmentBlocks(bytes, segment, codec, signal, sealing)) yield* batch;
}

/** decodeCheckedSegment, one array of records per block. */
export async function* decodeCheckedSegmentBlocks(
  bytes: Uint8Array,
  segment: SegmentEntry,
  codec: BlockCodec,
  signal?: AbortSignal,
  sealing: SegmentSealing | null = null,
): AsyncGenerator<ArchiveRecord[]> {
  for await (const b of checkedBlocks(bytes, segment, codec, signal, decodeSegmentObjects, sealing)) if (b.count > 0) yield b.records;
}

/** The blocks of a segment, with counts, first and last positions and timestamps compared with the manifest entry. */
async function* checkedBlocks<T>(
  bytes: Uint8Array,
  segment: SegmentEntry,
  codec: BlockCodec,
  signal: AbortSignal | undefined,
  decode: SegmentDecoder<T>,
  sealing: SegmentSealing | null,
  recheck = true,
): AsyncGenerator<DecodedBlock<T>> {
  const context = `segment ${segment.key}`;
  let n = 0;
  let last: DecodedBlock<T> | null = null;
  // the block headers' count and positions are compared with the entry before a record is handed on
  const expected = { records: segment.records, firstPosition: BigInt(segment.firstPosition), lastPosition: BigInt(segment.lastPosition) };
  for await (const block of decode(bytes, codec, context, undefined, sealing, expected, recheck)) {
    throwIfAborted(signal);
    if (block.count === 0) continue;
    if (n === 0) {
      if (block.firstPosition.toString() !== segment.firstPosition) {
        throw new MqbakError('integrity', `${context}: first position ${block.firstPosition}, manifest says ${segment.firstPosition}`);
      }
      if (block.firstTimestamp !== segment.firstTimestamp) {
        throw new MqbakError('integrity', `${context}: first timestamp ${block.firstTimestamp}, manifest says ${segment.firstTimestamp}`);
      }
    }
    n += block.count;
    if (n > segment.records) throw new MqbakError('integrity', `${context}: more than the ${segment.records} records the manifest states`);
    last = block;
    yield block;
  }
  if (n !== segment.records) throw new MqbakError('integrity', `${context}: ${n} records, manifest says ${segment.records}`);
  if (last && last.lastPosition.toString() !== segment.lastPosition) {
    throw new MqbakError('integrity', `${context}: last position ${last.lastPosition}, manifest says ${segment.lastPosition}`);
  }
  if (last && last.lastTimestamp !== segment.lastTimestamp) {
    throw new MqbakError('integrity', `${context}: last timestamp ${last.lastTimestamp}, manifest says ${segment.lastTimestamp}`);
  }
}
