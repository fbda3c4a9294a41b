/**
 * What one mqbak run tells monitoring: the metrics of a backup, restore, verify, forget or prune,
 * for the textfile collector (--metrics-file) and the Pushgateway (--pushgateway). docs/METRICS.md
 * lists them. Every sample carries the command and the labels the caller gives (the store and
 * source, credentials removed), so that several jobs can write files side by side.
 */
import type { Metric } from './prometheus-text.js';

export type MeteredCommand = 'backup' | 'restore' | 'verify' | 'forget' | 'prune';

export interface RunFacts {
  command: MeteredCommand;
  /** ms since the epoch */
  startedAt: number;
  endedAt: number;
  exitStatus: number;
  /** Records backed up, restored or checked. */
  records?: number;
  /** Bytes of the records before compression, and as stored. */
  rawBytes?: number;
  storedBytes?: number;
  /** Backups in the chain of the backup written, restored or checked. */
  chainLength?: number;
  streams?: ReadonlyArray<{ stream: string; records: number; lastPosition: string | null }>;
  /** verify: findings by kind (every kind mqbak knows, 0 where none). */
  findings?: Readonly<Record<string, number>>;
  /** prune: what was deleted. */
  deleted?: { objects: number; bytes: number };
  /** forget: backups removed and kept. */
  forgotten?: { removed: number; kept: number };
}

/**
 * The metrics of a run. `lastSuccess` (seconds) is the previous success time, kept when this run
 * failed, so that an alert on its age keeps counting from the last good run.
 */
export function runMetrics(f: RunFacts, labels: Readonly<Record<string, string>>, lastSuccess: number | null): Metric[] {
  const base = { ...labels, command: f.command };
  const one = (name: string, help: string, value: number | undefined): Metric => ({
    name,
    help,
    type: 'gauge',
    samples: value === undefined ? [] : [{ labels: base, value }],
  });
  const success = f.exitStatus === 0 ? f.endedAt / 1000 : lastSuccess;
  const metrics: Metric[] = [
    one('mqbak_last_run_timestamp_seconds', 'When the last run ended (Unix time).', f.endedAt / 1000),
    one('mqbak_last_success_timestamp_seconds', 'When the last successful run ended (Unix time).', success ?? undefined),
    one('mqbak_last_run_duration_seconds', 'How long the last run took.', (f.endedAt - f.startedAt) / 1000),
    one('mqbak_last_run_exit_status', 'The exit status of the last run (0: success; see mqbak --help).', f.exitStatus),
    one('mqbak_last_run_records', 'Records the last run backed up, restored or checked.', f.records),
    one('mqbak_last_run_raw_bytes', 'Bytes of those records before compression.', f.rawBytes),
    one('mqbak_last_run_stored_bytes', 'Bytes the last run stored or read as stored.', f.storedBytes),
    one('mqbak_chain_length', 'Backups in the chain of the last backup written, restored or checked.', f.chainLength),
    {
      name: 'mqbak_stream_records',
      help: 'Records of each stream in the last run.',
      type: 'gauge',
      samples: (f.streams ?? []).map((s) => ({ labels: { ...base, stream: s.stream }, value: s.records })),
    },
    {
      name: 'mqbak_stream_last_position',
      help: 'The last position (offset, sequence) of each stream in the last run.',
      type: 'gauge',
      samples: (f.streams ?? []).filter((s) => s.lastPosition !== null).map((s) => ({ labels: { ...base, stream: s.stream }, value: Number(s.lastPosition) })),
    },
    {
      name: 'mqbak_verify_findings',
      help: 'Findings of the last verify, by kind.',
      type: 'gauge',
      samples: Object.entries(f.findings ?? {}).map(([kind, n]) => ({ labels: { ...base, kind }, value: n })),
    },
    one('mqbak_prune_deleted_objects', 'Objects the last prune deleted.', f.deleted?.objects),
    one('mqbak_prune_freed_bytes', 'Bytes the last prune freed.', f.deleted?.bytes),
    one('mqbak_forget_removed_backups', 'Backups the last forget removed.', f.forgotten?.removed),
    one('mqbak_forget_kept_backups', 'Backups the last forget kept.', f.forgotten?.kept),
  ];
  return metrics;
}
