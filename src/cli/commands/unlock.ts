import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';

/** mqbak unlock <store> [--all]: removes stale locks (every lock with --all). */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = ''] = args;
  const store = await openStoreFromCli(storeUrl, opts, ctx.env, { unlock: false });
  const { removeStaleLocks } = await import('../../core/store-lock.js');
  try {
    const removed = await removeStaleLocks(store, { all: Boolean(opts.all), signal: ctx.signal });
    if (opts.json) {
      ctx.out(`${JSON.stringify({ removed }, null, 2)}\n`);
      return EXIT.ok;
    }
    for (const k of removed) ctx.out(`removed ${k}\n`);
    ctx.out(`${removed.length} lock${removed.length === 1 ? '' : 's'} removed\n`);
    return EXIT.ok;
  } finally {
    await store.close();
  }
}
