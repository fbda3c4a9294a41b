// docs/JSON.md against the program: every command run with --json (and `cat`, and --progress
// json) prints what the page's example for it shows, by the rules the page states:
//   - every key printed appears in the example, at every depth (items of an array against the
//     example's first item; `{}` and `[]` in an example are free-form);
//   - every top-level key of an example is printed;
//   - a value has the example's type or is null; an example null allows any type.
// A command whose output changes shape fails here until docs/JSON.md says the same.
import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMqbak } from '../helpers/run-mqbak.js';
import { declare, env, useRabbitE2e } from '../helpers/rabbitmq-e2e.js';

const DOC = fileURLToPath(new URL('../../docs/JSON.md', import.meta.url));

/** The first ```json block after each `## \`mqbak ...\`` heading, by the heading's command text. */
async function documentedShapes(): Promise<Map<string, string>> {
  const text = await readFile(DOC, 'utf8');
  const shapes = new Map<string, string>();
  for (const m of text.matchAll(/^## `([^`]+)`[^\n]*\n[\s\S]*?```json\n([\s\S]*?)```/gm)) shapes.set(m[1]!, m[2]!);
  return shapes;
}

function typeOf(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

export function shapeProblems(actual: unknown, doc: unknown, where = '$', top = true): string[] {
  if (doc === null || actual === null) return [];
  if (typeOf(actual) !== typeOf(doc)) return [`${where}: ${typeOf(actual)}, documented as ${typeOf(doc)}`];
  if (Array.isArray(doc)) {
    if (doc.length === 0) return [];
    return (actual as unknown[]).flatMap((a, i) => shapeProblems(a, doc[0], `${where}[${i}]`, false));
  }
  if (typeof doc !== 'object') return [];
  const d = doc as Record<string, unknown>;
  const a = actual as Record<string, unknown>;
  if (Object.keys(d).length === 0) return [];
  const problems = Object.keys(a)
    .filter((k) => !(k in d))
    .map((k) => `${where}.${k}: printed but not documented`);
  if (top) problems.push(...Object.keys(d).filter((k) => !(k in a)).map((k) => `${where}.${k}: documented but not printed`));
  for (const k of Object.keys(a)) if (k in d) problems.push(...shapeProblems(a[k], d[k], `${where}.${k}`, false));
  return problems;
}

let shapes = new Map<string, string>();
const { newVhost, newStore } = useRabbitE2e();

async function json(args: string[], expectedCode = 0, extraEnv: NodeJS.ProcessEnv = {}): Promise<unknown> {
  const r = await runMqbak(args, { env: { ...env, ...extraEnv } });
  expect(r.code, `mqbak ${args.join(' ')}: ${r.stderr}`).toBe(expectedCode);
  return JSON.parse(r.stdout);
}

function expectDocumented(heading: string, output: unknown): void {
  const example = shapes.get(heading);
  expect(example, `docs/JSON.md has no section ## \`${heading}\``).toBeDefined();
  expect(shapeProblems(output, JSON.parse(example!)), `${heading} against docs/JSON.md`).toEqual([]);
}

beforeAll(async () => {
  shapes = await documentedShapes();
});

describe('the shape checker', () => {
  it('fails on an undocumented key, a missing top-level key and a changed type', () => {
    const doc = { id: 'x', streams: [{ name: 'a', records: 1 }], free: {} };
    expect(shapeProblems({ id: 'y', streams: [{ name: 'b', records: 2 }], free: { anything: 1 } }, doc)).toEqual([]);
    expect(shapeProblems({ id: 'y', streams: [{ name: 'b', records: '2', extra: 1 }] }, doc)).toEqual([
      '$.free: documented but not printed',
      '$.streams[0].extra: printed but not documented',
      '$.streams[0].records: string, documented as number',
    ]);
  });
});

describe('--json of every command, as docs/JSON.md shows it', () => {
  it('backup, list, show, verify, restore, cat, cut, forget, prune, unlock', async () => {
    const { url, conn } = await newVhost('json');
    const store = await newStore();
    await declare(conn, 'jobs');
    await declare(conn, 'jobs-copy');
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 3; i++) ch.sendToQueue('jobs', Buffer.from(`job ${i}`), { messageId: `m${i}` });
    await ch.waitForConfirms();
    await ch.close();

    const backup = (await json(['backup', url, store, '--queues', 'jobs', '--json'])) as { id: string };
    expectDocumented('mqbak backup --json', backup);
    expectDocumented('mqbak list --json', await json(['list', store, '--json']));
    expectDocumented('mqbak show <store> <id> --json', await json(['show', store, backup.id, '--json']));
    expectDocumented('mqbak verify --json', await json(['verify', store, '--json']));
    expectDocumented('mqbak verify --json', await json(['verify', store, '--read-data-subset', '1/2', '--json']));

    // a finding, to check a finding's keys: one byte of the segment changed, in a copy
    const bad = await newStore();
    await cp(store, bad, { recursive: true });
    const segDir = path.join(bad, 'segments', backup.id);
    const sub = (await readdir(segDir))[0]!;
    const seg = path.join(segDir, sub, (await readdir(path.join(segDir, sub)))[0]!);
    const bytes = await readFile(seg);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    await writeFile(seg, bytes);
    const failed = (await json(['verify', bad, '--json'], 4)) as { findings: unknown[] };
    expect(failed.findings.length).toBeGreaterThan(0);
    expectDocumented('mqbak verify --json', failed);

    const journal = path.join(await newStore(), 'journal.json');
    expectDocumented('mqbak restore --json', await json(['restore', store, url, '--map', 'jobs=jobs-copy', '--dry-run', '--json']));
    const restored = await json(['restore', store, url, '--map', 'jobs=jobs-copy', '--journal', journal, '--json']);
    expect((restored as { restored: number }).restored).toBe(3);
    expectDocumented('mqbak restore --json', restored);

    const cat = await runMqbak(['cat', store, backup.id, '--limit', '1']);
    expect(cat.code, cat.stderr).toBe(0);
    expectDocumented('mqbak cat', JSON.parse(cat.stdout.trim()));

    expectDocumented('mqbak cut --json', await json(['cut', store, '--before', '2000-01-01', '--dry-run', '--json']));
    expectDocumented('mqbak cut --json', await json(['cut', store, '--before', '2000-01-01', '--json']));
    expectDocumented('mqbak forget --json', await json(['forget', store, '--keep-last', '1', '--prune', '--json']));
    expectDocumented('mqbak forget --json', await json(['forget', store, '--keep-last', '1', '--dry-run', '--json']));
    expectDocumented('mqbak prune --json', await json(['prune', store, '--dry-run', '--json']));
    expectDocumented('mqbak prune --json', await json(['prune', store, '--json']));
    expectDocumented('mqbak unlock --json', await json(['unlock', store, '--json']));
  });

  it('key init, add, list, passwd, remove', async () => {
    const store = await newStore();
    const dir = await newStore();
    const pw = async (name: string, text: string) => {
      const p = path.join(dir, name);
      await writeFile(p, `${text}\n`);
      return p;
    };
    const one = await pw('one', 'first password');
    const two = await pw('two', 'second password');
    const three = await pw('three', 'third password');
    const fast = ['--scrypt-n', '1024'];
    const init = (await json(['key', 'init', store, '--new-password-file', one, ...fast, '--json'])) as { id: string };
    expectDocumented('mqbak key init --json', init);
    expectDocumented('mqbak key init --json', await json(['key', 'add', store, '--password-file', one, '--new-password-file', two, ...fast, '--json']));
    expectDocumented('mqbak key list --json', await json(['key', 'list', store, '--json']));
    const passwd = (await json(['key', 'passwd', store, '--password-file', two, '--new-password-file', three, ...fast, '--json'])) as { added: { id: string } };
    expectDocumented('mqbak key passwd --json', passwd);
    const removed = await json(['key', 'remove', store, init.id, '--password-file', three, '--json']);
    expect(removed).toEqual({ removed: init.id });
    expectDocumented('mqbak key remove --json', removed);
  });
});

describe('--progress json', () => {
  it('prints progress as JSON lines on stderr, the last counts of each stream included', async () => {
    const example = shapes.get('--progress json');
    expect(example).toBeDefined();
    const documented = new Map(example!.trim().split('\n').map((l) => JSON.parse(l) as { type: string }).map((o) => [o.type, o]));
    const { url, conn } = await newVhost('progress-json');
    const store = await newStore();
    await declare(conn, 'jobs');
    const ch = await conn.model.createConfirmChannel();
    for (let i = 0; i < 40; i++) ch.sendToQueue('jobs', Buffer.from(`job ${i}`));
    await ch.waitForConfirms();
    await ch.close();

    const r = await runMqbak(['backup', url, store, '--queues', 'jobs', '--progress', 'json'], { env });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stderr.split('\n').filter((l) => l !== '');
    expect(lines.filter((l) => !l.startsWith('{'))).toEqual([]);
    const events = lines.map((l) => JSON.parse(l) as { type: string; time: string; stream?: string; records?: number });
    for (const e of events) {
      expect(documented.has(e.type), `type ${e.type} documented`).toBe(true);
      expect(shapeProblems(e, documented.get(e.type), '$', false)).toEqual([]);
      expect(Number.isNaN(Date.parse(e.time))).toBe(false);
    }
    expect(events.some((e) => e.type === 'phase')).toBe(true);
    const progress = events.filter((e) => e.type === 'progress' && e.stream !== undefined);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[progress.length - 1]!.records).toBe(40);

    // the same run without --progress json prints plain lines (not a terminal)
    const plain = await runMqbak(['backup', url, store, '--queues', 'jobs'], { env });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/^mqbak: /m);
    expect(plain.stderr).not.toMatch(/^\{/m);
  });

  it('takes MQBAK_PROGRESS, and refuses a mode it does not know (exit 2)', async () => {
    const store = await newStore();
    const fromEnv = await runMqbak(['prune', store, '--dry-run'], { env: { MQBAK_PROGRESS: 'json' } });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    const lines = fromEnv.stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.map((l) => (JSON.parse(l) as { type: string }).type)).toContain('phase');
    const badOption = await runMqbak(['prune', store, '--progress', 'fancy']);
    expect(badOption.code).toBe(2);
    expect(badOption.stderr).toMatch(/^mqbak: error: option '--progress <mode>' argument 'fancy' is invalid/m);
    const badEnv = await runMqbak(['prune', store], { env: { MQBAK_PROGRESS: 'fancy' } });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/^mqbak: error: MQBAK_PROGRESS=fancy: expected auto, plain or json$/m);
  });
});
