/**
 * The metrics options of backup, restore, verify, forget and prune, and what the CLI does with
 * them: the destinations are checked before any work, and after the command, whatever its exit
 * status, its metrics go to the file and the Pushgateway. A metrics file or push that fails is a
 * warning: the command's own exit status stands.
 */
import type { Command } from 'commander';
import { messageOf } from '../../common/errors.js';
import { checkMetricsFile, previousLastSuccess, writeMetricsFile } from './metrics-file.js';
import { formatMetrics } from './prometheus-text.js';
import { parsePushgatewayUrl, pushMetrics, type PushTarget } from './pushgateway.js';
import { runMetrics, type MeteredCommand, type RunFacts } from './run-metrics.js';

export const METERED: ReadonlySet<string> = new Set<MeteredCommand>(['backup', 'restore', 'verify', 'forget', 'prune']);

/** What a command tells about its run, beyond its exit status; filled as it goes. */
export type RunDetails = Partial<Omit<RunFacts, 'command' | 'startedAt' | 'endedAt' | 'exitStatus'>> & {
  /** The store and the broker URL, credentials removed: labels of every sample and the push's grouping key. */
  labels?: Record<string, string>;
};

export interface MetricsDestination {
  file: string | null;
  push: PushTarget | null;
  job: string;
}

export function metricsOptions(cmd: Command): Command {
  return cmd
    .option('--metrics-file <path>', "write the run's Prometheus metrics to this file, atomically, for node_exporter's textfile collector (env MQBAK_METRICS_FILE)")
    .option('--pushgateway <url>', "push the run's metrics to this Prometheus Pushgateway (env MQBAK_PUSHGATEWAY_URL)")
    .option('--metrics-job <name>', 'the Pushgateway job name (env MQBAK_METRICS_JOB; default mqbak)');
}

/** The destinations from options and environment, checked before any work; null when none. */
export async function metricsDestination(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<MetricsDestination | null> {
  const file = (opts.metricsFile as string | undefined) ?? (env.MQBAK_METRICS_FILE || undefined);
  const url = (opts.pushgateway as string | undefined) ?? (env.MQBAK_PUSHGATEWAY_URL || undefined);
  if (file === undefined && url === undefined) return null;
  if (file !== undefined) await checkMetricsFile(file);
  return { file: file ?? null, push: url === undefined ? null : parsePushgatewayUrl(url), job: (opts.metricsJob as string | undefined) ?? (env.MQBAK_METRICS_JOB || 'mqbak') };
}

export async function emitRunMetrics(
  dest: MetricsDestination,
  run: Pick<RunFacts, 'command' | 'startedAt' | 'endedAt' | 'exitStatus'>,
  details: RunDetails,
  warn: (message: string) => void,
): Promise<void> {
  const { labels = {}, ...rest } = details;
  const facts: RunFacts = { ...rest, ...run };
  if (dest.file !== null) {
    try {
      const last = await previousLastSuccess(dest.file, { ...labels, command: run.command });
      await writeMetricsFile(dest.file, formatMetrics(runMetrics(facts, labels, last)));
    } catch (e) {
      warn(`metrics not written: ${messageOf(e)}`);
    }
  }
  if (dest.push !== null) {
    try {
      // the grouping key carries the labels: the samples need not repeat them
      await pushMetrics(dest.push, dest.job, labels, formatMetrics(runMetrics(facts, {}, null)), { replace: run.exitStatus === 0 });
    } catch (e) {
      warn(`metrics not pushed: ${messageOf(e)}`);
    }
  }
}
