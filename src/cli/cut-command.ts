/**
 * The `mqbak cut` command and its help text: old data dropped while the newest backups stay
 * restorable (docs/RETENTION.md, "Cutting old data"). Kept apart from main.ts, which holds the
 * other commands.
 */
import type { Command } from 'commander';
import { jsonOption, storeOptions } from './options/common.js';
import type { CommandAction } from './context.js';
import { helpAfter, STORES } from './help-format.js';

export function addCutCommand(program: Command, action: CommandAction): void {
  const cut = program
    .command('cut')
    .summary('make a new full backup without the records older than a time, reading no broker')
    .description(
      "For the newest backup of each chain in <store> (or --backup's), write a new full backup that holds the same records except those older than --before, by reference to the chain's own segments: nothing is read from a broker and nothing is copied. Segments are left out whole, oldest first, so a few older records may stay. The next backups continue from the cut. Then `forget` can remove the old chain and `prune` free its space. Takes an exclusive lock on the store (see docs/RETENTION.md).",
    )
    .argument('<store>', 'folder, file:///path or s3://bucket/prefix')
    .option('--before <time|duration>', 'leave out the records older than this: an ISO 8601 time, or a duration back from now (90d, 6m, 1y)')
    .option('--backup <id>', 'cut this backup\'s chain only (default: the newest backup of every chain)')
    .option('--dry-run', 'print what would be left out; change nothing');
  storeOptions(cut, 'locks');
  jsonOption(cut, 'what was (or would be) left out');
  cut
    .addHelpText(
      'after',
      helpAfter(
        `  mqbak cut ./backups --before 90d --dry-run
  mqbak cut ./backups --before 2026-06-01 && mqbak forget ./backups --keep-last 1 --prune
  mqbak cut s3://ops-backups/mq --before 1y --backup 20261125T020000000Z-1a2b3c --json`,
        STORES,
      ),
    )
    .action(action('cut', async () => (await import('./commands/cut.js')).run));
}
