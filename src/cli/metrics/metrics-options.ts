/**
 * The metrics options of the metered commands and whether a run asks for metrics: all that the
 * CLI needs before a command runs. The code that checks, formats, writes and pushes the metrics
 * (run-report.ts) is imported only by a run that asks for them.
 */
import type { Command } from 'commander';
import type { MeteredCommand } from './run-metrics.js';

export const METERED: ReadonlySet<string> = new Set<MeteredCommand>(['backup', 'restore', 'verify', 'forget', 'prune']);

export function metricsOptions(cmd: Command): Command {
  return cmd
    .option('--metrics-file <path>', "write the run's Prometheus metrics to this file, atomically, for node_exporter's textfile collector (env MQBAK_METRICS_FILE)")
    .option('--pushgateway <url>', "push the run's metrics to this Prometheus Pushgateway (env MQBAK_PUSHGATEWAY_URL)")
    .option('--metrics-job <name>', 'the Pushgateway job name (env MQBAK_METRICS_JOB; default mqbak)');
}

/** The metrics file and Pushgateway URL from options and environment; both undefined when no metrics are asked for. */
export function metricsTargets(opts: Record<string, unknown>, env: NodeJS.ProcessEnv): { file: string | undefined; url: string | undefined } {
  return {
    file: (opts.metricsFile as string | undefined) ?? (env.MQBAK_METRICS_FILE || undefined),
    url: (opts.pushgateway as string | undefined) ?? (env.MQBAK_PUSHGATEWAY_URL || undefined),
  };
}
