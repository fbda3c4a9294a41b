// Every command's --help (and every subcommand's, e.g. key init), rendered by commander at a
// fixed width as `mqbak <command> --help` renders it: no line wider than the width and no ragged
// line (test/helpers/help-lint.ts says precisely what that is).
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { allAdapters } from '../../../src/brokers/registry.js';
import { exampleLines, fill, helpWidthFor, MAX_HELP_WIDTH } from '../../../src/cli/help-format.js';
import { buildProgram } from '../../../src/cli/main.js';
import { describeProblems, helpProblems } from '../../helpers/help-lint.js';

function commands(cmd: Command, path: string[] = []): { path: string[]; cmd: Command }[] {
  return [{ path, cmd }, ...cmd.commands.flatMap((sub) => commands(sub, [...path, sub.name()]))];
}

async function renderAll(width: number): Promise<{ title: string; text: string }[]> {
  const program = buildProgram(async () => {}, await allAdapters());
  return commands(program).map(({ path, cmd }) => {
    let text = '';
    cmd.configureOutput({ writeOut: (s) => (text += s), writeErr: (s) => (text += s), getOutHelpWidth: () => width, getErrHelpWidth: () => width });
    cmd.outputHelp();
    return { title: `mqbak ${[...path, '--help'].join(' ')}`, text };
  });
}

describe('--help of every command', () => {
  it.each([80, 100])('has no ragged line and no line over %i columns', async (width) => {
    const helps = await renderAll(width);
    expect(helps.map((h) => h.title)).toEqual(expect.arrayContaining(['mqbak --help', 'mqbak backup --help', 'mqbak restore --help', 'mqbak key init --help']));
    const report = helps.map((h) => describeProblems(h.title, helpProblems(h.text, width))).filter(Boolean);
    expect(report.join('\n')).toBe('');
  });

  it('keeps the EXAMPLES and EXIT STATUS sections', async () => {
    for (const h of await renderAll(80)) {
      if (h.title === 'mqbak key --help' || h.title.startsWith('mqbak key ') || h.title.startsWith('mqbak help')) continue;
      expect(h.text, h.title).toMatch(/\nEXAMPLES\n {2}(# .*\n {2})?(MQBAK_\S+ )?mqbak /);
      expect(h.text, h.title).toMatch(/\nEXIT STATUS\n {2}0 {4}success\n/);
    }
  });
});

describe('the help checker', () => {
  it('finds a hard line break in a description and a line over the width', () => {
    const help = `Usage: mqbak x [options]\n\nCopy Kafka topics into\nan archive.\n\nOptions:\n  --full  ${'w'.repeat(80)}\n`;
    const problems = helpProblems(help, 80);
    expect(problems.map((p) => p.line)).toEqual([3, 7]);
    expect(problems[0]!.problem).toMatch(/^ragged: "an"/);
  });

  it('finds a hard line break in an option description, and not between two options', () => {
    const help = 'Options:\n  --full   write a full\n           backup\n  --level  zstd level\n';
    expect(helpProblems(help, 80).map((p) => p.line)).toEqual([2]);
  });

  it('leaves the EXAMPLES alone but their width', () => {
    expect(helpProblems('EXAMPLES\n  mqbak list a\n  mqbak list b\n', 80)).toEqual([]);
  });
});

describe('help layout', () => {
  it('fills text to the width', () => {
    expect(fill('aa bb cc dd', 8, '  ')).toEqual(['  aa bb', '  cc dd']);
  });

  it('breaks a long example before an option, pasteable as one command', () => {
    const command = "mqbak restore ./backups nats://localhost:4222 --map ORDERS=ORDERS_COPY --subject-map 'orders.> =copy.orders.>' --definitions";
    const lines = exampleLines(command, 60);
    expect(lines.length).toBeGreaterThan(1);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(60);
    for (const l of lines.slice(0, -1)) expect(l).toMatch(/ \\$/);
    for (const l of lines.slice(1)) expect(l).toMatch(/^ {6}--/);
    expect(lines.map((l) => l.trim().replace(/ \\$/, '')).join(' ')).toBe(command);
  });

  it('wraps to $COLUMNS, else the terminal, else 80, and never wider than the maximum', () => {
    expect(helpWidthFor({ isTTY: true, columns: 90 }, { COLUMNS: '72' })).toBe(72);
    expect(helpWidthFor({ isTTY: true, columns: 90 }, {})).toBe(90);
    expect(helpWidthFor({ isTTY: false }, {})).toBe(80);
    expect(helpWidthFor({ isTTY: true, columns: 250 }, {})).toBe(MAX_HELP_WIDTH);
    expect(helpWidthFor({ isTTY: false }, { COLUMNS: 'wide' })).toBe(80);
  });
});
