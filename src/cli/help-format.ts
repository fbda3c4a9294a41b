/**
 * How --help is laid out. Commander wraps descriptions to the help width itself, so description
 * strings carry no line breaks but paragraph breaks. The text after commander's part (prose
 * sections such as STORES, the EXAMPLES, the EXIT STATUS) is laid out here, at the same width:
 * prose is wrapped, each example command is broken shell-style (` \` at the end of a line) so
 * that it can still be pasted, and the exit statuses are a fixed table.
 */
import type { AddHelpTextContext, Command } from 'commander';
import { EXIT_STATUS_HELP } from './exit-codes.js';

/** Help is never wrapped wider than this: long lines are hard to read. */
export const MAX_HELP_WIDTH = 100;
const DEFAULT_HELP_WIDTH = 80;
/** Narrower than this, help is not wrapped: a terminal that narrow wraps it anyway. */
const MIN_HELP_WIDTH = 40;

/** A titled paragraph (or paragraphs, separated by a blank line) of running text. */
export interface HelpSection {
  title: string;
  text: string;
}

/**
 * The width help is wrapped to: $COLUMNS where it is a number, else the terminal's width, else
 * 80 (output to a pipe or file); never more than MAX_HELP_WIDTH.
 */
export function helpWidthFor(stream: { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): number {
  const fromEnv = Number(env.COLUMNS);
  let width = DEFAULT_HELP_WIDTH;
  if (env.COLUMNS !== undefined && /^\d+$/.test(env.COLUMNS.trim()) && fromEnv > 0) width = fromEnv;
  else if (stream.isTTY && (stream.columns ?? 0) > 0) width = stream.columns!;
  return Math.min(width, MAX_HELP_WIDTH);
}

/** The width commander wraps this command's help to (what configureHelp or configureOutput set). */
function widthOf(cmd: Command, error: boolean): number {
  const configured = cmd.createHelp().helpWidth;
  if (configured !== undefined) return configured;
  const output = cmd.configureOutput();
  return (error ? output.getErrHelpWidth?.() : output.getOutHelpWidth?.()) ?? DEFAULT_HELP_WIDTH;
}

/** Words of `text` greedily filled into lines of at most `width` characters, each line prefixed by `indent`. */
export function fill(text: string, width: number, indent = ''): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(indent + line);
  return lines;
}

/**
 * A shell command's words, an option kept with its value (`--topics orders`) and a pipe with
 * the command after it; quoted parts ('...' or "...") stay inside their word.
 */
function shellUnits(command: string): string[] {
  const units: string[] = [];
  let optionOpen = false;
  let piped = false;
  for (const word of command.match(/(?:[^\s'"]+|'[^']*'|"(?:\\.|[^"\\])*")+/g) ?? []) {
    const starts = !piped && (word.startsWith('-') || word === '|');
    if (!starts && (optionOpen || piped)) units[units.length - 1] += ` ${word}`;
    else units.push(word);
    if (starts) optionOpen = true;
    if (word === '|') piped = true;
  }
  return units;
}

/**
 * One example command, broken before an option where it is wider than `width`: every line but
 * the last ends with ` \` and the following ones are indented by four more spaces, so that the
 * whole can be pasted into a shell. A `# comment` line is wrapped as comment lines.
 */
export function exampleLines(command: string, width: number, indent = '  '): string[] {
  const text = command.trim();
  if (text.startsWith('#')) return fill(text.replace(/^#\s*/, ''), width, `${indent}# `);
  const lines: string[] = [];
  let line = '';
  for (const unit of shellUnits(text)) {
    const prefix = lines.length === 0 ? indent : `${indent}    `;
    if (line !== '' && prefix.length + line.length + 1 + unit.length + 2 > width) {
      lines.push(`${prefix}${line} \\`);
      line = unit;
    } else line = line === '' ? unit : `${line} ${unit}`;
  }
  lines.push(`${lines.length === 0 ? indent : `${indent}    `}${line}`);
  return lines;
}

/**
 * The text after a command's options: `sections` (prose), then EXAMPLES (one command a line in
 * `examples`) and EXIT STATUS, laid out at the width of the help it follows.
 */
export function helpAfter(examples: string, ...sections: HelpSection[]): (context: AddHelpTextContext) => string {
  return (context) => {
    const width = widthOf(context.command, context.error);
    const wrapWidth = width < MIN_HELP_WIDTH ? Number.MAX_SAFE_INTEGER : width;
    const out: string[] = [];
    for (const s of sections) {
      out.push('', s.title);
      s.text.split(/\n\s*\n/).forEach((paragraph, i) => {
        if (i > 0) out.push('');
        out.push(...fill(paragraph, wrapWidth, '  '));
      });
    }
    out.push('', 'EXAMPLES');
    for (const e of examples.split('\n').filter((l) => l.trim() !== '')) out.push(...exampleLines(e, wrapWidth));
    return `${out.join('\n')}\n${EXIT_STATUS_HELP}\n`;
  };
}

/** The STORES section of every command that opens a store. */
export const STORES: HelpSection = {
  title: 'STORES',
  text: '<store> is a folder path, file:///path, or s3://bucket/prefix. S3 credentials come from the standard AWS chain (environment, shared config and profiles, instance roles).',
};
