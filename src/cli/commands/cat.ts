import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';

/**
 * mqbak cat <store> <backup-id> [--stream <name>] [--limit N]: records as JSON lines on stdout.
 * Stops quietly when the reader goes away (`| head`).
 */
export async function run(ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> {
  const [storeUrl = '', id = ''] = args;
  const store = await openStoreFromCli(storeUrl, opts, ctx.env);
  const { catRecords } = await import('../../core/inspect.js');
  let closed = false;
  const onError = (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') closed = true;
  };
  const stdout = process.stdout;
  stdout.on('error', onError);
  try {
    let buf = '';
    for await (const r of catRecords(store, id, {
      stream: opts.stream as string | undefined,
      limit: opts.limit as number | undefined,
      signal: ctx.signal,
    })) {
      if (closed) break;
      buf += `${JSON.stringify(r)}\n`;
      if (buf.length >= 64 * 1024) {
        ctx.out(buf);
        buf = '';
        // a slow reader (less, a pipe) must not make the output pile up in memory
        if (stdout.writableNeedDrain) await drained(stdout);
      }
    }
    if (buf && !closed) ctx.out(buf);
    return EXIT.ok;
  } finally {
    stdout.off('error', onError);
    await store.close();
  }
}

/** Resolves on 'drain', or when the stream fails or closes (then nothing will drain). */
function drained(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
    stream.on('close', done);
  });
}
