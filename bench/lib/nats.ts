// The NATS JetStream scenarios of `npm run bench`: mqbak backup of a limits stream against a plain
// ordered consumer reading it all, and mqbak restore against a plain publisher publishing it all
// with acknowledgements. The server is a private nats-server (test/brokers/nats.sh) unless
// MQBAK_BENCH_NATS_URL names one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NatsBenchHarness<M> {
  root: string;
  reps: number;
  keep: boolean;
  record(name: string, tool: 'mqbak' | 'baseline'): M;
  sample(m: M, argv: string[]): Promise<unknown>;
  finish(m: M): void;
  mqbak(args: string[], profile: boolean): string[];
  worker(name: string): string[];
  log(s: string): void;
}

/** A server for the bench: MQBAK_BENCH_NATS_URL, or one started now (stop() stops it). */
export function natsServer(root: string): { url: string; stop(): void } {
  const given = process.env.MQBAK_BENCH_NATS_URL;
  if (given) return { url: given, stop: () => {} };
  const state = mkdtempSync(join(tmpdir(), 'mqbak-bench-nats-'));
  const script = join(root, 'test', 'brokers', 'nats.sh');
  const url = execFileSync('bash', [script, 'start', state], { encoding: 'utf8' }).trim();
  return {
    url,
    stop: () => {
      execFileSync('bash', [script, 'stop', state], { stdio: 'ignore' });
      rmSync(state, { recursive: true, force: true });
    },
  };
}

/** Runs the scenarios on natsServer(): `n` messages of `dataFile`, h.reps times. */
export async function natsScenarios<M>(h: NatsBenchHarness<M>, work: string, dataFile: string, n: number): Promise<void> {
  const server = natsServer(h.root);
  try {
    await scenarios(h, work, server.url, dataFile, n);
  } finally {
    server.stop();
  }
}

async function scenarios<M>(h: NatsBenchHarness<M>, work: string, url: string, dataFile: string, n: number): Promise<void> {
  const s = `BENCH_${process.pid}`;
  const s2 = `${s}_RESTORED`;
  const pub = h.record('nats restore baseline: js.publish with acks', 'baseline');
  const cons = h.record('nats backup baseline: ordered consumer read only', 'baseline');
  const backup = h.record('nats backup: mqbak', 'mqbak');
  const restore = h.record('nats restore: mqbak', 'mqbak');
  const { connectNats } = await import('../../src/brokers/nats/connection.js');
  const conn = await connectNats(url);
  const drop = async (name: string) => conn.jsm.streams.delete(name).catch(() => undefined);
  try {
    for (let i = 0; i < h.reps; i++) {
      await drop(s);
      await h.sample(pub, [...h.worker('nats-publish.ts'), url, s, dataFile]);
      await h.sample(cons, [...h.worker('nats-consume.ts'), url, s, String(n)]);
      const store = join(work, `nats-${i}`);
      rmSync(store, { recursive: true, force: true });
      await h.sample(backup, h.mqbak(['backup', url, store, '--streams', s], i === 0));
      await drop(s2);
      await h.sample(restore, h.mqbak(['restore', store, url, '--map', `${s}=${s2}`, '--subject-map', `${s}.>=${s2}.>`], i === 0));
      await drop(s2);
      if (!h.keep) rmSync(store, { recursive: true, force: true });
    }
  } finally {
    await drop(s);
    await conn.close();
  }
  [pub, cons, backup, restore].forEach((m) => h.finish(m));
}
