/**
 * Writes one backup: segments first, each once, and the manifest last (the commit point).
 * API contract of core's backup pipeline (docs/FORMAT.md, "Write order"); each stream is a
 * BackupStream (backup-stream.ts).
 */
import { silentProgress, type Progress } from '../common/progress.js';
import { ENCRYPTED_FORMAT_VERSION, FORMAT_VERSION, serializeManifest, sha256Hex, type BackupKind, type Manifest, type SourceDescription } from '../archive/manifest.js';
import { encodeStoredManifest, needsPassword } from '../archive/stored-manifest.js';
import { masterKeyOf } from '../archive/encryption/store-key.js';
import { isEncryptedStore } from './store-keys.js';
import type { Store } from '../stores/store.js';
import { MqbakError, throwIfAborted, withContext } from '../common/errors.js';
import { checkLevelAndBlockSize, DEFAULT_BLOCK_SIZE, DEFAULT_LEVEL, zstdCodec, type BlockCodec } from '../archive/codec.js';
import { backupIdTime, isBackupId, manifestKey, newBackupId } from '../archive/keys.js';
import { BackupStream, type Settings, type StreamSpec, type StreamWriter } from './backup-stream.js';

export type { StreamSpec, StreamWriter } from './backup-stream.js';

export interface BackupWriterOptions {
  store: Store;
  kind: BackupKind;
  /** The parent's id and manifest SHA-256 (from the reader); null for a full backup. */
  parent: { id: string; sha256: string } | null;
  source: SourceDescription;
  toolVersion: string;
  signal?: AbortSignal;
  progress?: Progress;
  /** Raw bytes per zstd block (at most 4 MiB: zstd-codec's heap). */
  blockSize?: number;
  /** Raw bytes after which a segment is closed and stored. */
  segmentSize?: number;
  /**
   * Bytes all streams together may hold in memory (records in open blocks, blocks being
   * compressed, segments being built and being stored); past it, a stream holding more than its
   * share compresses its open block early and stores its segment early (backup-stream.ts).
   * Bounds memory whatever the number of partitions or queues and however poorly data compresses.
   */
  memoryBudget?: number;
  /** zstd level. */
  level?: number;
  /** For reproducible fixtures and tests only. */
  id?: string;
  now?: () => Date;
  /** Block compression (default: zstd in this thread). */
  codec?: BlockCodec;
  /** Compressions in flight per stream (more than 1 only helps with a codec that runs elsewhere). */
  compressConcurrency?: number;
}


export interface BackupWriter {
  readonly id: string;
  /** Opens a stream; streams are written concurrently and independently. */
  openStream(spec: StreamSpec): StreamWriter;
  /** Broker metadata stored in manifest.metadata[key]. */
  setMetadata(key: string, value: unknown): void;
  /** Recorded in manifest.warnings and passed to progress.warn. */
  warn(message: string): void;
  /**
   * Closes nothing itself: every stream must be closed first. Writes the manifest last and
   * returns it with the SHA-256 (hex) of its stored bytes.
   */
  commit(): Promise<{ manifest: Manifest; sha256: string }>;
  /** Gives up without a manifest; segments already stored stay, unreferenced. */
  abort(): Promise<void>;
}


export const DEFAULT_SEGMENT_SIZE = 32 * 1024 * 1024;
export const DEFAULT_MEMORY_BUDGET = 64 * 1024 * 1024;

export async function openBackupWriter(options: BackupWriterOptions): Promise<BackupWriter> {
  const level = options.level ?? DEFAULT_LEVEL;
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  checkLevelAndBlockSize(level, blockSize);
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
  if (!Number.isSafeInteger(segmentSize) || segmentSize < 1) throw new MqbakError('usage', `segment size ${segmentSize}: expected a positive number of bytes`);
  if ((options.kind === 'full') !== (options.parent === null)) {
    throw new MqbakError('internal', `a ${options.kind} backup ${options.parent ? 'cannot have' : 'needs'} a parent`);
  }
  const now = options.now ?? (() => new Date());
  const started = now();
  let id = options.id ?? newBackupId(started);
  // a child's id must sort after its parent's, even when both start in the same millisecond or
  // the clock went back: then the id takes the parent's time plus 1 ms
  if (options.id === undefined && options.parent && options.parent.id >= id) {
    const parentTime = Date.parse(backupIdTime(options.parent.id) ?? '');
    if (!Number.isNaN(parentTime)) id = newBackupId(new Date(parentTime + 1));
  }
  if (!isBackupId(id)) throw new MqbakError('internal', `bad backup id ${id}`);
  if (options.parent && options.parent.id >= id) throw new MqbakError('internal', `parent ${options.parent.id} is not older than ${id}`);
  // plaintext is never written to an encrypted store
  if (masterKeyOf(options.store) === null && (await isEncryptedStore(options.store, options.signal))) throw needsPassword(`store ${options.store.description}`);
  const w = new Writer(options, id, started, {
    level,
    blockSize,
    segmentSize,
    codec: options.codec ?? zstdCodec,
    concurrency: options.compressConcurrency ?? 1,
    memoryBudget: options.memoryBudget ?? DEFAULT_MEMORY_BUDGET,
  });
  return w;
}

class Writer implements BackupWriter {
  private readonly streams: BackupStream[] = [];
  private readonly metadata: Record<string, unknown> = {};
  private readonly warnings: string[] = [];
  private state: 'open' | 'committed' | 'aborted' = 'open';
  readonly progress: Progress;
  /** Bytes held by all streams (BackupStream's owner: records, blocks and segments in memory). */
  held = 0;
  /** Streams opened and not closed yet (each one's close counts itself out). */
  openStreams = 0;
  /** Last segments of ended streams being stored (BackupStream.end). */
  readonly endings = new Set<Promise<void>>();

  constructor(
    readonly options: BackupWriterOptions,
    readonly id: string,
    private readonly started: Date,
    readonly settings: Settings,
  ) {
    this.progress = options.progress ?? silentProgress;
  }

  private checkOpen(): void {
    if (this.state !== 'open') throw new MqbakError('internal', `backup ${this.id} is already ${this.state}`);
  }

  openStream(spec: StreamSpec): StreamWriter {
    this.checkOpen();
    if (this.streams.some((s) => s.spec.name === spec.name)) throw new MqbakError('internal', `stream ${spec.name} opened twice`);
    const s = new BackupStream(this, spec, this.streams.length);
    this.streams.push(s);
    this.openStreams++;
    return s;
  }

  setMetadata(key: string, value: unknown): void {
    this.metadata[key] = value;
  }

  warn(message: string): void {
    this.warnings.push(message);
    this.progress.warn(message);
  }

  get aborted(): boolean {
    return this.state === 'aborted';
  }

  async commit(): Promise<{ manifest: Manifest; sha256: string }> {
    this.checkOpen();
    throwIfAborted(this.options.signal);
    const open = this.streams.filter((s) => s.entry === null).map((s) => s.name);
    if (open.length > 0) throw new MqbakError('internal', `backup ${this.id}: streams not closed: ${open.join(', ')}`);
    const masterKey = masterKeyOf(this.options.store);
    const manifest: Manifest = {
      format: 'mqbak',
      version: masterKey === null ? FORMAT_VERSION : ENCRYPTED_FORMAT_VERSION,
      id: this.id,
      kind: this.options.kind,
      parent: this.options.parent ? { id: this.options.parent.id, sha256: this.options.parent.sha256 } : null,
      source: this.options.source,
      streams: this.streams.map((s) => s.entry!),
      metadata: this.metadata,
      tool: { name: 'mqbak', version: this.options.toolVersion },
      startedAt: this.started.toISOString(),
      endedAt: (this.options.now ?? (() => new Date()))().toISOString(),
      warnings: this.warnings,
    };
    const bytes = encodeStoredManifest(manifest, masterKey);
    try {
      await this.options.store.put(manifestKey(this.id), bytes, { signal: this.options.signal });
    } catch (e) {
      throw withContext(e, `store manifest of backup ${this.id}`, 'unreachable');
    }
    this.state = 'committed';
    // the manifest as a reader gets it back; the hash is over the stored (maybe sealed) bytes
    const plain = masterKey === null ? bytes : serializeManifest(manifest);
    return { manifest: JSON.parse(new TextDecoder().decode(plain), dropChecksum) as Manifest, sha256: sha256Hex(bytes) };
  }

  async abort(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'aborted';
    // let stores in flight settle so that nothing writes after abort() returned
    await Promise.allSettled(this.streams.map((s) => s.settle()));
  }
}

function dropChecksum(this: unknown, key: string, value: unknown): unknown {
  return key === 'checksum' && this !== null && typeof this === 'object' && 'format' in this ? undefined : value;
}

