/**
 * The manifest: the JSON object that commits a backup (docs/FORMAT.md, "Manifest").
 * Written last; a backup without one does not exist.
 */
export const FORMAT_VERSION = 1;

export type BackupKind = 'full' | 'incremental';
export type BrokerKind = 'kafka' | 'rabbitmq';

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
}

export interface SourceDescription {
  broker: BrokerKind;
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
  /** Unique within a backup: "kafka/<topic>/<partition>" or "rabbitmq/<vhost>/<queue>". */
  name: string;
  broker: BrokerKind;
  kafka?: { topic: string; partition: number };
  rabbitmq?: { vhost: string; queue: string; queueType: 'classic' | 'quorum' | 'stream' };
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
