/**
 * Helpers of the NATS end-to-end tests: stores, streams read back through the client (raw header
 * blocks kept), the records of every backup in a store through `mqbak cat`, and running mqbak
 * until a condition holds, then killing it with SIGKILL.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { rawHeaderBlock, type NatsConnection } from '../../src/brokers/nats/index.js';
import { MQBAK_BIN, runMqbak } from './run-mqbak.js';

const dirs: string[] = [];

export async function newStore(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mqbak-nats-'));
  dirs.push(d);
  return d;
}

export async function removeStores(): Promise<void> {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
}

export interface StoredMessage {
  seq: number;
  subject: string;
  /** The raw header block, latin1 ('' when none). */
  block: string;
  data: string;
}

/** Every message a stream holds, in order, as the server stores it (an ordered consumer of the client). */
export async function streamMessages(conn: NatsConnection, stream: string): Promise<StoredMessage[]> {
  const info = await conn.jsm.streams.info(stream);
  const out: StoredMessage[] = [];
  if (info.state.messages === 0) return out;
  const c = await conn.js.consumers.get(stream);
  const iter = await c.consume();
  for await (const m of iter) {
    const block = rawHeaderBlock(m);
    out.push({ seq: m.seq, subject: m.subject, block: block ? Buffer.from(block).toString('latin1') : '', data: Buffer.from(m.data).toString('latin1') });
    if (m.info.pending === 0) break;
  }
  await iter.close();
  return out;
}

export async function mqbakJson<T>(args: string[]): Promise<T> {
  const r = await runMqbak([...args, '--json']);
  expect(r.stderr).not.toMatch(/mqbak: error/);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** The values of every record of every backup in the store, oldest backup first. */
export async function storeValues(store: string): Promise<string[]> {
  const list = await mqbakJson<Array<{ id: string }>>(['list', store]);
  const values: string[] = [];
  for (const b of list) {
    const r = await runMqbak(['cat', store, b.id]);
    expect(r.code, r.stderr).toBe(0);
    for (const line of r.stdout.split('\n').filter(Boolean)) values.push((JSON.parse(line) as { value: string }).value);
  }
  return values;
}

export async function storeFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

/** Runs mqbak until `killWhen` holds (checked every few ms), then SIGKILL; fails if it ends first. */
export async function killMidway(args: string[], killWhen: () => Promise<boolean>, env: NodeJS.ProcessEnv = {}): Promise<void> {
  const child = spawn(process.execPath, [MQBAK_BIN, ...args], { env: { ...process.env, CI: 'true', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => {
      ended = true;
      resolve({ code, signal });
    }),
  );
  const deadline = Date.now() + 60_000;
  while (!(await killWhen())) {
    if (ended) throw new Error(`mqbak ${args[0]} ended before the kill point: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`mqbak ${args[0]} never reached the kill point in 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  expect((await exited).signal, stderr).toBe('SIGKILL');
}
