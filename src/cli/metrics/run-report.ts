/**
 * What the CLI does with the metrics options (metrics-options.ts) of a run that asks for metrics,
 * loaded only then: the destinations are checked before any work, and after the command, whatever its exit
 * status, its metrics go to the file and the Pushgateway. A metrics file or push that fails is a
 * warning: the command's own exit status stands.
 */
import { messageOf } from '../../common/errors.js';
import { checkMetricsFile, previousLastSuccess, writeMetricsFile } from './metrics-file.js';
import { formatMetrics } from './prometheus-text.js';
import { parsePushgatewayUrl, pushMetrics, type PushTarget } from './pushgateway.js';
import { metricsTargets } from './metrics-options.js';
import { runMetrics, type RunFacts } from './run-metrics.js';

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

/** The destinations from options and environment, checked before any work; null when none. */
export async function metricsDestination(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<MetricsDestination | null> {
  const { file, url } = metricsTargets(opts, env);
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
