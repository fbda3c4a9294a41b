/**
 * The mqbak command line. Parsing and help live here; each command's work is in its own module
 * under ./commands, imported only when that command runs, so `mqbak --help` loads no broker or
 * S3 library.
 */
import { Command, CommanderError, Option } from 'commander';
import { MqbakError, isMqbakError } from '../common/errors.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { helpAfter, helpWidthFor, STORES } from './help-format.js';
import { createProgress, type CliContext, type CommandRunner } from './context.js';
import { handleInterrupts } from './signals.js';
import { PROGRESS_MODES, progressMode } from './progress-json.js';
import { collect, commaList, compressionLevel, jsonOption, storeOptions, positiveInt, byteSize, wholeNumber } from './options/common.js';
import { addKeyCommands } from './key-commands.js';
import { addCutCommand } from './cut-command.js';
import { addAdapterOptions } from './adapter-options.js';
import { checkCommandLine } from './command-checks.js';
import type { BrokerAdapter } from '../brokers/adapter.js';
import { allAdapters } from '../brokers/registry.js';
import { TOOL_VERSION } from './version.js';
import type { MetricsDestination } from './metrics/run-report.js';
import { METERED, metricsOptions, metricsTargets } from './metrics/metrics-options.js';
import type { MeteredCommand } from './metrics/run-metrics.js';
import { setZstdImplementation, zstdImplementation, type ZstdImplementation } from '../archive/codec.js';


/**
 * The command tree. `adapters` (src/brokers/registry.ts) contribute their own options to backup
 * and restore; loading them loads no client library.
 */
export function buildProgram(
  run: (name: string, load: () => Promise<CommandRunner>, args: string[], opts: Record<string, unknown>) => Promise<void>,
  adapters: readonly BrokerAdapter[],
): Command {
  const program = new Command('mqbak')
    .description(`Back up and restore the messages held in ${adapters.map((a) => a.title).join(', ')} brokers.`)
    .version(TOOL_VERSION, '-V, --version')
    .option('--debug', 'print stack traces and client library logs')
    .option('-q, --quiet', 'no progress output (warnings and errors still go to stderr)')
    .addOption(new Option('--progress <mode>', 'progress on stderr (env MQBAK_PROGRESS): auto is a spinner on a terminal and plain lines elsewhere, json is JSON lines (docs/JSON.md)').choices(PROGRESS_MODES))
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      helpAfter(
        `  mqbak backup kafka://localhost:9092 ./backups --topics orders,payments
  mqbak backup amqp://guest:guest@localhost:5672/%2F s3://ops-backups/mq --queues jobs
  mqbak backup nats://localhost:4222 ./backups --streams ORDERS
  mqbak verify ./backups
  mqbak restore ./backups kafka://localhost:9092 --map orders=orders-restored --offset-map map.jsonl`,
        STORES,
      ),
    );

  const action = (name: string, load: () => Promise<CommandRunner>) =>
    async function (this: Command, ...all: unknown[]) {
      const cmd = this;
      const args = cmd.args.slice(0, cmd.registeredArguments.length).map((a) => String(a));
      void all;
      await run(name, load, args, { ...program.opts(), ...cmd.opts() });
    };

  const backup = program
    .command('backup')
    .summary('copy Kafka topics, RabbitMQ queues or JetStream streams into an archive')
    .description(
      'Copy Kafka topics (kafka://host:port[,host:port]), RabbitMQ queues (amqp://user:pass@host:port/vhost) or NATS JetStream streams (nats://[user:pass@]host:port) into a compressed, checksummed archive in <store>. ' +
        'When the store already holds a backup of the same source and streams, an incremental backup holding only what came after it is written (unless --full).\n\n' +
        'Kafka and JetStream backups are a consistent cut: each partition or stream is read up to the end it had when the backup started (JetStream work-queue streams need --mode drain). ' +
        'RabbitMQ --mode mirror returns every message to its queue (RabbitMQ then marks them redelivered); --mode drain acknowledges messages only once the checkpoint backup holding them is committed.',
    )
    .argument('<source>', adapters.flatMap((a) => a.schemes.map((s) => `${s}://...`)).join(', '))
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .option('--full', 'write a full backup even if a parent exists')
    .option('--full-every <duration|n>', "start a new chain (a full backup) once the current chain's full is this old (e.g. 7d) or the chain holds n backups, so that forget can drop old chains whole (docs/RETENTION.md)")
    .addOption(new Option('--segment-size <bytes>', 'raw bytes per segment before it is stored').argParser(byteSize))
    .addOption(new Option('--level <n>', 'zstd compression level, 1 (default: fastest, about 5:1 on JSON events) to 9').argParser(compressionLevel));
  addAdapterOptions(backup, adapters, 'backup');
  storeOptions(backup, 'locks');
  metricsOptions(backup);
  jsonOption(backup, 'the result (id, kind, parent, records, streams)');
  backup
    .addHelpText(
      'after',
      helpAfter(
        `  mqbak backup kafka://localhost:9092 ./backups --topics orders --groups billing
  mqbak backup kafka://b1:9092,b2:9092 s3://ops/mq --topic-regex '^events\\.' --s3-region eu-west-1
  mqbak backup amqp://guest:guest@localhost:5672/%2F ./backups --queues jobs,emails
  mqbak backup amqp://admin:secret@rabbit:5672/prod ./backups --all-queues --mode drain
  mqbak backup nats://user:pass@nats:4222 ./backups --all-streams
  mqbak backup nats://localhost:4222 ./backups --streams JOBS --mode drain`,
        STORES,
      ),
    )
    .action(action('backup', async () => (await import('./commands/backup.js')).run));

  const restore = program
    .command('restore')
    .summary('republish an archive into Kafka, RabbitMQ or NATS JetStream')
    .description(
      'Republish the backup (by default the latest, with its chain of incrementals) from <store> into <target>: kafka://..., amqp(s)://user:pass@host:port/vhost or nats://... ' +
        'Records keep their order, partitions, keys, headers and timestamps (Kafka), properties (RabbitMQ) or subjects and headers (NATS).\n\n' +
        'A record counts as restored only when the broker acknowledged it; failures are counted and give exit status 3. ' +
        'Run again with the same arguments after an interruption: restore continues where it stopped.',
    )
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .argument('<target>', adapters.flatMap((a) => a.schemes.map((s) => `${s}://...`)).join(', '))
    .option('--backup <id>', 'backup to restore (default: the latest)')
    .option('--until <time>', 'restore only records with timestamps up to this ISO 8601 time')
    .option('--streams <a,b>', 'what to restore, by name: Kafka topics, RabbitMQ queues, JetStream streams (default: all)', commaList)
    .option('--topics <a,b>', 'alias of --streams for Kafka targets', commaList)
    .option('--queues <a,b>', 'alias of --streams for RabbitMQ targets', commaList)
    .option('--map <src=dst>', 'restore topic, queue or stream src under the name dst (repeatable)', collect, [])
    .option('--dry-run', 'print the plan and write nothing')
    .addOption(new Option('--preflight <check>', 'checked before the first publish: full reads every segment (size, SHA-256, records), sizes only lists them (presence, size); damage: exit 4, nothing published').choices(['full', 'sizes']).default('full'))
    .option('--offset-map <file>', 'write where each source position landed as JSON lines to this file (docs/OFFSET-MAP.md)')
    .option('--check', 'then read the targets back and compare them with the archive; a difference exits 4 (docs/RESTORE-CHECK.md)')
    .option('--check-only', 'write nothing: compare targets an earlier restore wrote, each whole, with the archive')
    .option(
      '--journal <file>',
      'restore journal, to resume an interrupted restore (env MQBAK_RESTORE_JOURNAL; default under $XDG_STATE_HOME/mqbak/restores/)',
    );
  addAdapterOptions(restore, adapters, 'restore');
  storeOptions(restore, 'locks');
  metricsOptions(restore);
  jsonOption(restore, 'the result (records, per-stream counts)');
  restore
    .addHelpText(
      'after',
      helpAfter(
        `  mqbak restore ./backups kafka://localhost:9092 --map orders=orders-restored --offset-map map.jsonl
  mqbak restore ./backups kafka://dr:9092 --backup 20261125T020000000Z-1a2b3c --groups billing
  mqbak restore ./backups kafka://localhost:9092 --until 2026-11-24T23:00:00Z --dry-run
  mqbak restore ./backups kafka://dr:9092 --repartition --partitions 12 --topics orders --offset-map map.jsonl
  mqbak restore ./backups amqp://guest:guest@localhost:5672/restored --definitions --map jobs=jobs-copy
  mqbak restore ./backups nats://localhost:4222 --map ORDERS=ORDERS_COPY --subject-map 'orders.>=copy.orders.>' --definitions`,
        STORES,
      ),
    )
    .action(action('restore', async () => (await import('./commands/restore.js')).run));

  const verify = program
    .command('verify')
    .summary('check an archive end to end')
    .description(
      "Check a backup (default: every backup in the store): the manifest chain (parents present, hashes equal), every segment's size and SHA-256, every block's length and checksum, every record, and the counts and positions the manifest states. " +
        'Every finding is reported, not only the first. Segments no manifest refers to (left by an interrupted backup) are reported too; nothing is deleted.',
    )
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .argument('[backup-id]', 'one backup (with its chain)')
    .option(
      '--read-data-subset <n/t|P%>',
      'read only part of the segments in full: slice n of t (by segment key: 1/t..t/t together read every segment once) or a random P%; manifests, the chain and every segment\'s presence and size are always checked',
    );
  storeOptions(verify);
  metricsOptions(verify);
  jsonOption(verify, '{"ok": true|false, "findings": [...]}');
  verify
    .addHelpText(
      'after',
      helpAfter(
        `  mqbak verify ./backups
  mqbak verify s3://ops-backups/mq 20261125T020000000Z-1a2b3c --json | jq .findings
  # a seventh of the segments a day, all of them in a week:
  mqbak verify s3://ops-backups/mq --read-data-subset "$(date +%u)/7"
  mqbak verify ./backups --read-data-subset 10%`,
        STORES,
      ),
    )
    .action(action('verify', async () => (await import('./commands/verify.js')).run));

  const list = program
    .command('list')
    .summary('list the backups in a store and their chains')
    .description('List the backups in <store>, oldest first, with their kind, parent and record counts.')
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix');
  storeOptions(list);
  jsonOption(list, 'an array of {id, kind, parent, createdAt, records, ...}');
  list
    .addHelpText('after', helpAfter(`  mqbak list ./backups\n  mqbak list s3://ops-backups/mq --json | jq -r '.[].id'`, STORES))
    .action(action('list', async () => (await import('./commands/list.js')).run));

  const show = program
    .command('show')
    .summary('show one backup: streams, ranges, counts, sizes, metadata')
    .description('Show the manifest of one backup in readable form, or as JSON.')
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .argument('<backup-id>', 'the backup (see mqbak list)');
  storeOptions(show);
  jsonOption(show, 'the manifest');
  show
    .addHelpText('after', helpAfter(`  mqbak show ./backups 20261125T020000000Z-1a2b3c\n  mqbak show ./backups 20261125T020000000Z-1a2b3c --json | jq .metadata`, STORES))
    .action(action('show', async () => (await import('./commands/show.js')).run));

  const cat = program
    .command('cat')
    .summary('print the records of a backup as JSON lines')
    .description(
      'Print the records of one backup as JSON lines on stdout, checked as verify checks them. Keys and values are UTF-8 text where valid, otherwise {"base64": "..."}; null stays null.',
    )
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .argument('<backup-id>', 'the backup (see mqbak list)')
    .option('--stream <name>', 'only this stream (as listed by show, e.g. kafka/orders/0)')
    .addOption(new Option('--limit <n>', 'stop after n records').argParser(positiveInt));
  storeOptions(cat);
  cat
    .addHelpText(
      'after',
      helpAfter(`  mqbak cat ./backups 20261125T020000000Z-1a2b3c --stream kafka/orders/0 --limit 10\n  mqbak cat ./backups 20261125T020000000Z-1a2b3c | jq -c 'select(.key == "user-42")'`, STORES),
    )
    .action(action('cat', async () => (await import('./commands/cat.js')).run));

  const forget = program
    .command('forget')
    .summary('remove the backups a retention policy does not keep')
    .description(
      'Apply a retention policy to each chain of backups in <store> (backups of the same source and streams) and remove the manifests of the backups it does not keep. A kept backup keeps every backup it needs to be restored (its incremental chain). Nothing is removed without a --keep-* option; --dry-run prints the plan and changes nothing; --prune also deletes the segments no remaining backup needs. Takes an exclusive lock on the store (see docs/RETENTION.md).',
    )
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .addOption(new Option('--keep-last <n>', 'keep the n newest backups').argParser(wholeNumber))
    .addOption(new Option('--keep-hourly <n>', 'keep the newest backup of each of the last n hours that have one (UTC)').argParser(wholeNumber))
    .addOption(new Option('--keep-daily <n>', 'keep the newest backup of each of the last n days that have one (UTC)').argParser(wholeNumber))
    .addOption(new Option('--keep-weekly <n>', 'the same for ISO weeks').argParser(wholeNumber))
    .addOption(new Option('--keep-monthly <n>', 'the same for months').argParser(wholeNumber))
    .addOption(new Option('--keep-yearly <n>', 'the same for years').argParser(wholeNumber))
    .option('--keep-within <duration>', 'keep the backups made within this long before the newest of their chain (e.g. 30d, 12h, 2w, 1y6m)')
    .option('--keep-id <id>', 'keep this backup (repeatable)', collect, [])
    .option('--dry-run', 'print what would be kept and removed; change nothing')
    .option('--prune', 'then delete the segments no remaining backup needs')
    .option('--grace <duration>', 'with --prune: leave unreferenced segments younger than this (default 24h)');
  storeOptions(forget, 'locks');
  metricsOptions(forget);
  jsonOption(forget, 'the plan and what was removed');
  forget
    .addHelpText(
      'after',
      helpAfter(
        `  mqbak forget ./backups --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --dry-run
  mqbak forget s3://ops-backups/mq --keep-within 30d --prune
  mqbak forget ./backups --keep-last 1 --keep-id 20261125T020000000Z-1a2b3c --json`,
        STORES,
      ),
    )
    .action(action('forget', async () => (await import('./commands/forget.js')).run));

  const prune = program
    .command('prune')
    .summary('delete the segments no remaining backup needs')
    .description(
      'Delete the segments of <store> that no manifest refers to: those of forgotten backups, and those left by interrupted backups once they are older than the grace period, so that a backup still running is never harmed. Manifests are never deleted. Takes an exclusive lock on the store.',
    )
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .option('--dry-run', 'print what would be deleted; delete nothing')
    .option('--grace <duration>', 'leave unreferenced segments younger than this (default 24h)');
  storeOptions(prune, 'locks');
  metricsOptions(prune);
  jsonOption(prune, 'what was (or would be) deleted');
  prune
    .addHelpText('after', helpAfter(`  mqbak prune ./backups --dry-run
  mqbak prune s3://ops-backups/mq --grace 48h`, STORES))
    .action(action('prune', async () => (await import('./commands/prune.js')).run));

  const unlock = program
    .command('unlock')
    .summary('remove stale locks from a store')
    .description(
      'Remove the locks of <store> that were not refreshed for 30 minutes (their mqbak process died). With --all, remove every lock: only when no mqbak runs on the store.',
    )
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .option('--all', 'remove every lock, also live ones');
  storeOptions(unlock);
  jsonOption(unlock, '{"removed": [lock keys]}');
  unlock
    .addHelpText('after', helpAfter(`  mqbak unlock ./backups
  mqbak unlock s3://ops-backups/mq --all`, STORES))
    .action(action('unlock', async () => (await import('./commands/unlock.js')).run));

  addCutCommand(program, action);
  addKeyCommands(program, action);

  return program;
}

/**
 * Whether parsing `argv` may need the broker adapters (their options on backup and restore, their
 * names in the help): not for these commands after nothing but --debug or --quiet (a verify's
 * start-up spends 30 M instructions loading the adapters' modules).
 */
function needsAdapters(argv: readonly string[]): boolean {
  const first = argv.find((a) => a !== '--debug' && a !== '-q' && a !== '--quiet');
  return first === undefined || !['verify', 'list', 'show', 'cat', 'forget', 'prune', 'unlock'].includes(first);
}

/** MQBAK_ZSTD: which zstd implementation compresses and decompresses (default: native where it loads). */
function zstdFrom(v: string | undefined): ZstdImplementation {
  if (v === undefined || v === '' || v === 'auto') return 'auto';
  if (v === 'native' || v === 'wasm') return v;
  throw new MqbakError('usage', `MQBAK_ZSTD=${v}: expected auto, native or wasm`);
}

/** Runs mqbak with `argv` (without node and script) and returns the exit status. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let exitCode: number = EXIT.ok;
  const debug = argv.includes('--debug');
  const quiet = argv.includes('--quiet') || argv.includes('-q');
  const interrupts = handleInterrupts({ write: (text) => process.stderr.write(text), debug });

  const report = (e: unknown): number => {
    if (isMqbakError(e)) {
      process.stderr.write(`mqbak: error: ${e.message}\n`);
      if (e.hint) process.stderr.write(`hint: ${e.hint}\n`);
      if (debug && e.stack) process.stderr.write(`${e.stack}\n`);
      return exitCodeFor(e.code);
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`mqbak: error: internal error: ${message}\n`);
    if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
    else process.stderr.write('hint: run again with --debug for details, and report it\n');
    return EXIT.internal;
  };

  const program = buildProgram(async (name, load, args, opts) => {
    const progress = await createProgress({ quiet: Boolean(opts.quiet), env, mode: progressMode(opts.progress, env) });
    const ctx: CliContext = {
      out: (text) => process.stdout.write(text),
      err: (text) => process.stderr.write(text),
      progress,
      signal: interrupts.signal,
      env,
      debug: Boolean(opts.debug),
      quiet: Boolean(opts.quiet),
      details: {},
      metered: false,
    };
    const startedAt = Date.now();
    let metrics: MetricsDestination | null = null;
    try {
      setZstdImplementation(zstdFrom(env.MQBAK_ZSTD));
      // MQBAK_ZSTD=native without the binding: exit 2 now, not a "damaged" block in the first read
      if (env.MQBAK_ZSTD === 'native') zstdImplementation();
      checkCommandLine(name, args, opts, env);
      if (METERED.has(name) && Object.values(metricsTargets(opts, env)).some((t) => t !== undefined)) {
        metrics = await (await import('./metrics/run-report.js')).metricsDestination(opts, env);
      }
      ctx.metered = metrics !== null;
      const runner = await load();
      exitCode = await runner(ctx, args, opts);
      progress.stop();
    } catch (e) {
      progress.stop();
      // After a signal, client libraries fail in their own words ("connection closed"), and
      // mqbak's own wrappers call that unreachable: what the user did is what happened.
      if (interrupts.signal.aborted) {
        process.stderr.write('mqbak: error: interrupted\n');
        if (debug && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
        exitCode = EXIT.interrupted;
      } else {
        exitCode = report(e);
      }
    }
    interrupts.settled(exitCode);
    if (metrics) {
      const warn = (m: string) => process.stderr.write(`mqbak: warning: ${m}\n`);
      const { emitRunMetrics } = await import('./metrics/run-report.js');
      await emitRunMetrics(metrics, { command: name as MeteredCommand, startedAt, endedAt: Date.now(), exitStatus: exitCode }, ctx.details, warn);
    }
  }, needsAdapters(argv) ? await allAdapters() : []);
  program.exitOverride();
  program.configureOutput({
    writeOut: (s) => process.stdout.write(s),
    writeErr: (s) => process.stderr.write(s),
    outputError: (s, write) => write(`mqbak: ${s.replace(/^error: /, 'error: ').trimEnd()}\n`),
    getOutHelpWidth: () => helpWidthFor(process.stdout, env),
    getErrHelpWidth: () => helpWidthFor(process.stderr, env),
  });
  const override = (cmd: Command): void => {
    for (const sub of cmd.commands) {
      sub.exitOverride();
      sub.configureOutput(program.configureOutput());
      override(sub); // key init, key add...
    }
  };
  override(program);
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT.usage;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return EXIT.ok;
      if (e.code === 'commander.executeSubCommandAsync') return EXIT.ok;
      return EXIT.usage;
    }
    return report(e);
  } finally {
    interrupts.dispose();
  }
  return exitCode;
}
