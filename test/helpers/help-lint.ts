/**
 * What a rendered `--help` must look like at a given width, checked line by line.
 *
 * - No line is wider than the width.
 * - No line is ragged. Text is greedy-filled: a line ends only where the next word would not
 *   fit. So a line L followed by a line N that continues the same text is ragged when
 *   `length(L) + 1 + length(first word of N) <= width`: N's first word would have fitted on L,
 *   so L ends where the source had a hard line break (or commander wrapped at a narrower width).
 *   N continues L when both are non-blank lines of the same wrapped block:
 *   - in running text (the description before the first heading, and sections such as STORES,
 *     PASSWORDS), N has the same indentation as L (a blank line ends a paragraph);
 *   - in commander's lists (Arguments:, Options:, Commands:), N is indented past the two spaces
 *     every entry starts with (it continues the entry's description).
 *   The EXAMPLES and EXIT STATUS sections are laid out by hand: only their width is checked.
 */

const FIXED_SECTIONS = new Set(['EXAMPLES', 'EXIT STATUS']);

export interface HelpProblem {
  line: number;
  text: string;
  problem: string;
}

const indentOf = (s: string): number => s.length - s.trimStart().length;

export function helpProblems(help: string, width: number): HelpProblem[] {
  const lines = help.split('\n');
  const problems: HelpProblem[] = [];
  let section: 'prose' | 'list' | 'fixed' | 'usage' = 'usage';
  lines.forEach((text, i) => {
    if ([...text].length > width) problems.push({ line: i + 1, text, problem: `${[...text].length} characters, wider than ${width}` });
    if (/^\S[^:]*:$/.test(text)) section = 'list';
    else if (/^[A-Z][A-Z ]+$/.test(text)) section = FIXED_SECTIONS.has(text) ? 'fixed' : 'prose';
    else if (section === 'usage' && i > 0 && text === '') section = 'prose';
    const next = lines[i + 1];
    if (section === 'fixed' || section === 'usage' || next === undefined || text.trim() === '' || next.trim() === '') return;
    if (/^\S[^:]*:$/.test(next) || /^[A-Z][A-Z ]+$/.test(next)) return;
    const continues = section === 'prose' ? indentOf(next) === indentOf(text) : indentOf(next) > 2;
    if (!continues) return;
    const word = next.trim().split(/\s+/)[0]!;
    if ([...text.trimEnd()].length + 1 + [...word].length <= width) {
      problems.push({ line: i + 1, text, problem: `ragged: "${word}" from the next line fits within ${width} columns` });
    }
  });
  return problems;
}

export function describeProblems(title: string, problems: HelpProblem[]): string {
  return problems.map((p) => `${title} line ${p.line}: ${p.problem}\n  | ${p.text}`).join('\n');
}
