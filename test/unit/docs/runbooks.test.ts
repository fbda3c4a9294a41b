// docs/RUNBOOKS.md and docs/examples/: the example files parse (YAML by a strict subset reader,
// systemd units by their structure and by systemd-analyze verify where it is installed), and
// every mqbak command line in them names a command mqbak has and only options that command (or
// mqbak itself) takes, as commander registers them for --help.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { allAdapters } from '../../../src/brokers/registry.js';
import { buildProgram } from '../../../src/cli/main.js';
import { parseYaml, type Yaml } from '../../helpers/yaml-subset.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EXAMPLES = path.join(ROOT, 'docs', 'examples');

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return (await Promise.all(entries.map((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)])))).flat();
}

const at = (v: Yaml | undefined, ...keys: Array<string | number>): Yaml | undefined =>
  keys.reduce<Yaml | undefined>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string | number, Yaml>)[k] : undefined), v);

/** Shell lines of a text: backslash continuations joined, full-line comments dropped. */
function logicalLines(text: string): string[] {
  return text
    .replace(/\\\n\s*/g, ' ')
    .split('\n')
    .filter((l) => !/^\s*#/.test(l));
}

/** The fenced sh/bash code blocks of a Markdown text. */
function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^\s*```(?:sh|bash|shell)\n([\s\S]*?)^\s*```/gm)].map((m) => m[1]!);
}

interface CommandLine {
  file: string;
  command: string[];
  options: string[];
}

/**
 * mqbak command lines: `mqbak` (or a path ending in /mqbak) in command position (at the start
 * of a command, after ; | & ( ` ' " or ExecStart=, after VAR=value assignments and sudo/exec),
 * then the command (two words for key), then its options up to the end of the command.
 */
export function mqbakCommands(file: string, text: string): CommandLine[] {
  const out: CommandLine[] = [];
  for (const line of logicalLines(text)) {
    for (const m of line.matchAll(/(?:[\w.$/{}-]*\/)?mqbak\s+([a-z]+)/g)) {
      const before = line.slice(0, m.index).split(/[;|&(`'"]/).pop()!;
      const rest = before
        .replace(/^\s*ExecStart=/, '')
        .replace(/^\s*(?:\w+=\S*\s+)*/, '')
        .replace(/^\s*(?:sudo|exec)\s+/, '');
      if (rest.trim() !== '') continue;
      const after = line.slice(m.index + m[0].length).split(/\s(?:\||&&|;|>|2>|#)\s|['"]\s*$/)[0]!;
      const words = after.match(/"[^"]*"|'[^']*'|\S+/g) ?? [];
      const command = [m[1]!];
      if (m[1] === 'key' && words[0] && !words[0].startsWith('-')) command.push(words.shift()!);
      out.push({ file, command, options: words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!) });
    }
  }
  return out;
}

async function optionTable(): Promise<Map<string, Set<string>>> {
  const program = buildProgram(async () => {}, await allAdapters());
  const global = program.options.map((o) => o.long!).concat('--help');
  const table = new Map<string, Set<string>>();
  const walk = (cmd: Command, pathOf: string[]) => {
    for (const sub of cmd.commands) {
      const name = [...pathOf, sub.name()];
      table.set(name.join(' '), new Set([...global, ...sub.options.map((o) => o.long!)]));
      walk(sub, name);
    }
  };
  walk(program, []);
  return table;
}

describe('mqbak command lines in docs/RUNBOOKS.md and docs/examples', () => {
  it('use commands and options that exist', async () => {
    const lines: CommandLine[] = [];
    lines.push(...shellBlocks(await readFile(path.join(ROOT, 'docs', 'RUNBOOKS.md'), 'utf8')).flatMap((b) => mqbakCommands('docs/RUNBOOKS.md', b)));
    for (const f of await filesUnder(EXAMPLES)) lines.push(...mqbakCommands(path.relative(ROOT, f), await readFile(f, 'utf8')));
    // the extraction finds what the runbooks are about
    const seen = new Set(lines.map((l) => l.command.join(' ')));
    for (const c of ['backup', 'forget', 'list', 'show', 'verify', 'restore']) expect(seen, c).toContain(c);
    expect(new Set(lines.map((l) => l.file)).size).toBeGreaterThanOrEqual(4);

    const table = await optionTable();
    const problems: string[] = [];
    for (const l of lines) {
      const name = l.command.join(' ');
      const known = table.get(name);
      if (!known) {
        problems.push(`${l.file}: mqbak ${name}: no such command`);
        continue;
      }
      for (const o of l.options) if (!known.has(o)) problems.push(`${l.file}: mqbak ${name}: no option ${o}`);
    }
    expect(problems).toEqual([]);
  });

  it('are found in command position only, and a wrong option is caught', () => {
    const found = mqbakCommands('x', 'sudo -u mqbak sh -c \'MQBAK_X=1 mqbak list "$S" --jsn\'\nExecStart=/usr/local/bin/mqbak key init s3://b/p --new-password-file f\nuseradd mqbak\n# mqbak backup in a comment');
    expect(found).toEqual([
      { file: 'x', command: ['list'], options: ['--jsn'] },
      { file: 'x', command: ['key', 'init'], options: ['--new-password-file'] },
    ]);
  });
});

describe('docs/examples parse', () => {
  it('the Kubernetes CronJob', async () => {
    const doc = parseYaml(await readFile(path.join(EXAMPLES, 'kubernetes', 'cronjob.yaml'), 'utf8'));
    expect(at(doc, 'apiVersion')).toBe('batch/v1');
    expect(at(doc, 'kind')).toBe('CronJob');
    expect(String(at(doc, 'spec', 'schedule'))).toMatch(/^(\S+ ){4}\S+$/);
    const pod = at(doc, 'spec', 'jobTemplate', 'spec', 'template', 'spec');
    expect(at(pod, 'restartPolicy')).toBe('Never');
    const container = at(pod, 'containers', 0);
    expect(at(container, 'image')).toMatch(/mqbak/);
    const script = at(container, 'command', 2);
    expect(script).toMatch(/^set -e\nmqbak backup /);
    const env = (at(container, 'env') as Array<{ name: string }>).map((e) => e.name);
    expect(env).toEqual(expect.arrayContaining(['MQBAK_PUSHGATEWAY_URL', 'MQBAK_STORE', 'MQBAK_SOURCE']));
  });

  it('the GitHub Actions workflow', async () => {
    const doc = parseYaml(await readFile(path.join(EXAMPLES, 'github-actions', 'mqbak-checks.yml'), 'utf8'));
    const crons = (at(doc, 'on', 'schedule') as Array<{ cron: string }>).map((s) => s.cron);
    expect(crons).toHaveLength(2);
    for (const job of ['verify', 'restore-drill']) {
      const steps = at(doc, 'jobs', job, 'steps') as Array<Record<string, Yaml>>;
      expect(steps.length).toBeGreaterThan(1);
      for (const s of steps) expect(typeof s.run === 'string' || typeof s.uses === 'string', JSON.stringify(s)).toBe(true);
      // each job runs on one of the two schedules
      expect(crons.filter((c) => String(at(doc, 'jobs', job, 'if')).includes(`'${c}'`))).toHaveLength(1);
    }
    expect(JSON.stringify(at(doc, 'jobs', 'verify', 'steps'))).toContain('--read-data-subset \\"$(date +%u)/7\\"');
    expect(at(doc, 'jobs', 'restore-drill', 'services', 'rabbitmq', 'image')).toMatch(/^rabbitmq:/);
    expect(JSON.stringify(at(doc, 'jobs', 'restore-drill', 'steps'))).toContain('--check');
  });

  it('the YAML blocks of docs/RUNBOOKS.md', async () => {
    const md = await readFile(path.join(ROOT, 'docs', 'RUNBOOKS.md'), 'utf8');
    const blocks = [...md.matchAll(/^( *)```yaml\n([\s\S]*?)^\s*```/gm)].map((m) => m[2]!.replace(new RegExp(`^${m[1]}`, 'gm'), ''));
    expect(blocks.length).toBeGreaterThan(0);
    for (const b of blocks) expect(at(parseYaml(b), 'groups', 0, 'rules', 0, 'expr')).toMatch(/mqbak_last_success_timestamp_seconds/);
  });

  it('the YAML reader refuses what it does not understand', () => {
    expect(() => parseYaml('a: 1\n\tb: 2')).toThrow(/tab/);
    expect(() => parseYaml('a: [1, 2]')).toThrow(/flow/);
    expect(() => parseYaml('a: 1\na: 2')).toThrow(/twice/);
    expect(() => parseYaml('a:\n  b: 1\n c: 2')).toThrow(/line 3/);
    expect(parseYaml('a:\n  - x: 1\n    y: |\n      l1\n      l2\n  - "z"\n')).toEqual({ a: [{ x: 1, y: 'l1\nl2\n' }, 'z'] });
  });

  const units = ['mqbak-backup.service', 'mqbak-backup.timer'];

  it('the systemd units: sections and keys', async () => {
    for (const u of units) {
      const text = await readFile(path.join(EXAMPLES, 'systemd', u), 'utf8');
      const sections = [...text.matchAll(/^\[(\w+)\]$/gm)].map((m) => m[1]);
      expect(sections, u).toEqual(u.endsWith('.service') ? ['Unit', 'Service'] : ['Unit', 'Timer', 'Install']);
      for (const l of text.split('\n')) if (l !== '' && !l.startsWith('#') && !l.startsWith('[')) expect(l, u).toMatch(/^[A-Z][A-Za-z]+=\S/);
    }
    const env = await readFile(path.join(EXAMPLES, 'systemd', 'backup.env'), 'utf8');
    for (const l of env.split('\n')) if (l !== '' && !l.startsWith('#')) expect(l).toMatch(/^[A-Z_]+=\S+$/);
  });

  it.skipIf(!existsSync('/usr/bin/systemd-analyze'))('the systemd units: systemd-analyze verify', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mqbak-units-'));
    try {
      // mqbak need not be installed here: the units' syntax is what is checked
      for (const u of units) {
        const text = await readFile(path.join(EXAMPLES, 'systemd', u), 'utf8');
        await writeFile(path.join(dir, u), text.replaceAll('/usr/local/bin/mqbak', '/bin/true'));
      }
      const r = await promisify(execFile)('systemd-analyze', ['verify', '--man=no', ...units.map((u) => path.join(dir, u))]);
      expect(r.stderr).toBe('');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
