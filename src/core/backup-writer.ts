/**
 * Writes one backup: segments first, each once, and the manifest last (the commit point).
 * API contract shared by the Kafka and RabbitMQ pipelines; implementation: archive task.
 */
import type { ArchiveRecord } from '../common/record.js';
import type { Progress } from '../common/progress.js';
import type { BackupKind, BrokerKind, Manifest, SourceDescription, StreamEntry } from '../archive/manifest.js';
import type { Store } from '../stores/store.js';
import { MqbakError } from '../common/errors.js';

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
  /** zstd level. */
  level?: number;
  /** For reproducible fixtures and tests only. */
  id?: string;
  now?: () => Date;
}

export interface StreamSpec {
  name: string;
  broker: BrokerKind;
  kafka?: { topic: string; partition: number };
  rabbitmq?: { vhost: string; queue: string; queueType: 'classic' | 'quorum' | 'stream' };
  /** First position this backup covers (inclusive). */
  from: bigint;
  extra?: Record<string, unknown>;
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

export interface StreamWriter {
  readonly name: string;
  /**
   * Appends a record; positions must increase. Resolves once the record is buffered; when a
   * segment is full it waits for that segment to be stored (backpressure).
   */
  append(record: ArchiveRecord): Promise<void>;
  /**
   * Called, in order, each time a segment is durable in the store, with the last position and
   * the number of records that segment holds. RabbitMQ drain acknowledges from here.
   */
  onDurable(listener: (lastPosition: bigint, records: number) => void | Promise<void>): void;
  /** Stores the buffered records as a segment now (if any); resolves when durable. */
  flush(): Promise<void>;
  /** Notes a range [from, to) the source no longer had (retention); kept in the manifest. */
  addGap(from: bigint, to: bigint, reason: string): void;
  /** Sets manifest stream.extra[key]. */
  setExtra(key: string, value: unknown): void;
  /** Flushes and closes the stream; `to` is the end position (exclusive) covered. */
  close(to: bigint): Promise<StreamEntry>;
}

export async function openBackupWriter(_options: BackupWriterOptions): Promise<BackupWriter> {
  throw new MqbakError('internal', 'backup writer not implemented yet');
}
