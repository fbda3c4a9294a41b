/**
 * Reads backups back, checking every length, checksum and hash before a record is handed on.
 * API contract shared by restore, cat and verify; implementation: archive task.
 */
import type { ArchiveRecord } from '../common/record.js';
import type { Manifest, SegmentEntry, StreamEntry } from '../archive/manifest.js';
import type { Store } from '../stores/store.js';
import { MqbakError } from '../common/errors.js';

export interface LoadedManifest {
  manifest: Manifest;
  /** SHA-256 (hex) of the manifest's stored bytes: what a child's parent.sha256 must equal. */
  sha256: string;
}

/** All committed backups in the store, oldest first (ids sort by time). Invalid manifests throw 'integrity'. */
export async function listBackups(_store: Store, _options?: { signal?: AbortSignal }): Promise<LoadedManifest[]> {
  throw new MqbakError('internal', 'backup reader not implemented yet');
}

/** One manifest, validated. Unknown id: 'not-found'. Newer format version: 'unsupported'. */
export async function loadManifest(_store: Store, _id: string, _options?: { signal?: AbortSignal }): Promise<LoadedManifest> {
  throw new MqbakError('internal', 'backup reader not implemented yet');
}

/**
 * The chain ending at `id` ('latest' = the newest backup in the store, optionally the newest
 * with this chainKey), full first. Checks every parent exists and its hash matches ('integrity').
 */
export async function resolveChain(
  _store: Store,
  _id: string | 'latest',
  _options?: { chainKey?: string; signal?: AbortSignal },
): Promise<LoadedManifest[]> {
  throw new MqbakError('internal', 'backup reader not implemented yet');
}

/**
 * The newest backup whose source.chainKey equals `chainKey`, or null: where an incremental
 * backup starts from.
 */
export async function findLatest(_store: Store, _chainKey: string, _options?: { signal?: AbortSignal }): Promise<LoadedManifest | null> {
  throw new MqbakError('internal', 'backup reader not implemented yet');
}

/**
 * The records of one stream of one backup, in order. Each segment's size and SHA-256, each
 * block's length and checksum, record counts and positions are checked against the manifest;
 * any mismatch throws 'integrity' naming the segment. `fromPosition` skips earlier records.
 */
export function readStream(
  _store: Store,
  _stream: StreamEntry,
  _options?: { signal?: AbortSignal; fromPosition?: bigint },
): AsyncIterable<ArchiveRecord> {
  throw new MqbakError('internal', 'backup reader not implemented yet');
}

/** The records of one segment, checked as in readStream. */
export function readSegment(_store: Store, _segment: SegmentEntry, _options?: { signal?: AbortSignal }): AsyncIterable<ArchiveRecord> {
  throw new MqbakError('internal', 'backup reader not implemented yet');
}
