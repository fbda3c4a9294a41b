import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { openStoreFromCli } from '../store.js';
import { newPassword, storePassword } from '../password.js';
import type { Store } from '../../stores/store.js';
import type { ScryptParams } from '../../archive/encryption/kdf.js';

function newKeyOptions(ctx: CliContext, opts: Record<string, unknown>): { params?: ScryptParams; description?: string; signal: AbortSignal } {
  const o: { params?: ScryptParams; description?: string; signal: AbortSignal } = { signal: ctx.signal };
  if (typeof opts.scryptN === 'number') o.params = { N: opts.scryptN, r: 8, p: 1 };
  if (typeof opts.description === 'string') o.description = opts.description;
  return o;
}

async function withStore(ctx: CliContext, url: string, opts: Record<string, unknown>, body: (store: Store) => Promise<number>): Promise<number> {
  const store = await openStoreFromCli(url, opts, ctx.env, { unlock: false });
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** mqbak key init|add|list|remove|passwd <store>: the passwords of an encrypted store (docs/ENCRYPTION.md). */
export function runner(sub: 'init' | 'add' | 'list' | 'remove' | 'passwd') {
  return async (ctx: CliContext, args: string[], opts: Record<string, unknown>): Promise<number> => {
    const [url = '', id = ''] = args;
    const keys = await import('../../core/store-keys.js');
    return withStore(ctx, url, opts, async (store) => {
      switch (sub) {
        case 'init': {
          const pw = await newPassword(opts);
          try {
            const info = await keys.initStoreKeys(store, pw, newKeyOptions(ctx, opts));
            ctx.out(opts.json ? `${JSON.stringify(info)}\n` : `created key ${info.id}: ${store.description} is encrypted\n`);
          } finally {
            pw.fill(0);
          }
          if (!ctx.quiet) ctx.err('mqbak: keep this password safe: if every password of the store is lost, its backups cannot be read by anyone\n');
          return EXIT.ok;
        }
        case 'add':
        case 'passwd': {
          // the current password first: a wrong one fails before anything new is typed
          const pw = await storePassword(opts, ctx.env, 'current password: ');
          try {
            await keys.unlockStore(store, pw, ctx.signal).then((u) => u.masterKey.fill(0));
            const npw = await newPassword(opts);
            try {
              if (sub === 'add') {
                const info = await keys.addStoreKey(store, pw, npw, newKeyOptions(ctx, opts));
                ctx.out(opts.json ? `${JSON.stringify(info)}\n` : `added key ${info.id}\n`);
              } else {
                const r = await keys.changeStorePassword(store, pw, npw, newKeyOptions(ctx, opts));
                ctx.out(opts.json ? `${JSON.stringify(r)}\n` : `key ${r.removed} replaced by key ${r.added.id}\n`);
              }
            } finally {
              npw.fill(0);
            }
          } finally {
            pw.fill(0);
          }
          return EXIT.ok;
        }
        case 'list': {
          const { keys: list, damaged } = await keys.listStoreKeys(store, ctx.signal);
          if (opts.json) {
            ctx.out(`${JSON.stringify({ keys: list.map(({ key: _, ...k }) => k), damaged: damaged.map((d) => ({ key: d.key, message: d.error.message })) }, null, 2)}\n`);
          } else {
            for (const k of list) ctx.out(`${k.id}  ${k.created}  scrypt N=${k.kdf.N}${k.description ? `  ${k.description}` : ''}\n`);
            for (const d of damaged) ctx.err(`mqbak: warning: ${d.key}: ${d.error.message}\n`);
          }
          return EXIT.ok;
        }
        case 'remove': {
          const pw = await storePassword(opts, ctx.env);
          try {
            await keys.removeStoreKey(store, pw, id, ctx.signal);
          } finally {
            pw.fill(0);
          }
          ctx.out(opts.json ? `${JSON.stringify({ removed: id })}\n` : `removed key ${id}\n`);
          return EXIT.ok;
        }
      }
    });
  };
}
