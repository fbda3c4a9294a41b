/**
 * A strict reader of the YAML subset the files in docs/examples use (no YAML library is among
 * the dependencies): block mappings and sequences, block scalars (| |- > >-), plain, 'single'
 * and "double" quoted scalars, full-line comments. Anything else (flow collections, anchors,
 * tags, tabs, a line that is neither `key: value` nor `- item`, a plain scalar holding ": " or
 * " #", a key given twice, inconsistent indentation) throws with the line number, so a broken
 * example fails its test rather than being half read.
 */
export type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };

interface Line {
  n: number;
  indent: number;
  text: string;
}

const KEY = /^("[^"]*"|'[^']*'|[A-Za-z0-9_$][A-Za-z0-9_.\-/$]*):(?:\s+(.*))?$/;

export function parseYaml(source: string): Yaml {
  const raw = source.split('\n');
  const lines: Line[] = raw.map((t, i) => {
    const body = t.replace(/\s+$/, '');
    if (/^ *\t/.test(body)) throw new Error(`line ${i + 1}: a tab in the indentation`);
    return { n: i + 1, indent: body.length - body.trimStart().length, text: body.trimStart() };
  });
  let pos = 0;
  const content = (): Line | undefined => {
    while (pos < lines.length && (lines[pos]!.text === '' || lines[pos]!.text.startsWith('#'))) pos++;
    return lines[pos];
  };
  const fail = (l: Line, why: string): never => {
    throw new Error(`line ${l.n}: ${why}: ${l.text}`);
  };

  function scalar(text: string, l: Line): Yaml {
    if (text.startsWith('"')) {
      if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) fail(l, 'unterminated or trailing text after a double-quoted string');
      return JSON.parse(text) as string;
    }
    if (text.startsWith("'")) {
      if (!/^'(?:[^']|'')*'$/.test(text)) fail(l, 'unterminated or trailing text after a single-quoted string');
      return text.slice(1, -1).replace(/''/g, "'");
    }
    if (/^[[{&*!%@`]/.test(text)) fail(l, 'flow collections, anchors, aliases and tags are not in the subset');
    if (/: |:$| #/.test(text)) fail(l, 'a plain scalar holding ": " or " #" (quote it)');
    if (text === 'true' || text === 'false') return text === 'true';
    if (text === 'null' || text === '~') return null;
    if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
    return text;
  }

  /** A block scalar's lines: those indented deeper than `parent` (and blank lines among them). */
  function blockScalar(indicator: string, parent: number, l: Line): string {
    const body: Line[] = [];
    while (pos < lines.length && (lines[pos]!.text === '' || lines[pos]!.indent > parent)) body.push(lines[pos++]!);
    while (body.length > 0 && body[body.length - 1]!.text === '') body.pop();
    if (body.length === 0) fail(l, 'an empty block scalar');
    const indent = body[0]!.indent;
    const texts = body.map((b) => {
      if (b.text !== '' && b.indent < indent) fail(b, 'a block scalar line indented less than its first line');
      return b.text === '' ? '' : `${' '.repeat(b.indent - indent)}${b.text}`;
    });
    const joined = indicator.startsWith('>') ? texts.join(' ').replace(/ {2,}/g, ' ') : texts.join('\n');
    return indicator.endsWith('-') ? joined : `${joined}\n`;
  }

  /** The value after `key:` or `- ` with nothing on the line: the deeper block below, or null. */
  function nested(parent: number, l: Line, allowSameIndentSequence: boolean): Yaml {
    const next = content();
    if (next && next.indent > parent) return block(next.indent);
    if (next && allowSameIndentSequence && next.indent === parent && next.text.startsWith('- ')) return block(parent);
    void l;
    return null;
  }

  function value(rest: string | undefined, indent: number, l: Line, inMapping: boolean): Yaml {
    if (rest === undefined || rest === '') return nested(indent, l, inMapping);
    if (/^[|>][-+]?$/.test(rest)) return blockScalar(rest, indent, l);
    return scalar(rest, l);
  }

  function mapping(indent: number, first?: { text: string; line: Line }): { [key: string]: Yaml } {
    const out: { [key: string]: Yaml } = {};
    const entry = (text: string, l: Line) => {
      const m = KEY.exec(text) ?? fail(l, 'expected key: value');
      const key = /^["']/.test(m[1]!) ? m[1]!.slice(1, -1) : m[1]!;
      if (key in out) fail(l, `key ${key} given twice`);
      out[key] = value(m[2], indent, l, true);
    };
    if (first) entry(first.text, first.line);
    for (let l = content(); l && l.indent === indent && !l.text.startsWith('- ') && l.text !== '-'; l = content()) {
      pos++;
      entry(l.text, l);
    }
    return out;
  }

  function sequence(indent: number): Yaml[] {
    const out: Yaml[] = [];
    for (let l = content(); l && l.indent === indent && (l.text.startsWith('- ') || l.text === '-'); l = content()) {
      pos++;
      const item = l.text === '-' ? '' : l.text.slice(2).trimStart();
      if (item !== '' && KEY.test(item) && !/^["']/.test(item)) {
        out.push(mapping(indent + (l.text.length - item.length), { text: item, line: l }));
      } else out.push(value(item, indent, l, false));
    }
    return out;
  }

  function block(indent: number): Yaml {
    const l = content()!;
    if (l.indent !== indent) fail(l, `indented ${l.indent}, expected ${indent}`);
    return l.text.startsWith('- ') || l.text === '-' ? sequence(indent) : mapping(indent);
  }

  const first = content();
  if (!first) return null;
  const doc = block(first.indent);
  const rest = content();
  if (rest) fail(rest, 'unexpected indentation');
  return doc;
}
