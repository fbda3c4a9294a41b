// The layering of src/ (docs/ARCHITECTURE.md), checked on the import graph of the source files:
// no import cycles, no source file over 400 lines, and no import against the layers. Every
// import counts: static, type-only, re-exports and dynamic import() of a literal path (a lazy
// import still ties the two files together).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SRC = join(ROOT, 'src');
const MAX_LINES = 400;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

// import x from '...', import type {...} from '...', export * from '...', import '...', import('...')
const IMPORT = /(?:^|[\s;])(?:import|export)\s[^'"]*?\sfrom\s*['"]([^'"]+)['"]|(?:^|[\s;])import\s*['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The files of src/ each file imports (paths relative to the repository, '/'-separated). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    const deps = new Set<string>();
    for (const m of text.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3]!;
      if (!spec.startsWith('.')) continue; // packages and node: modules
      deps.add(rel(resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    }
    graph.set(rel(file), [...deps].sort());
  }
  return graph;
}

function rel(p: string): string {
  return relative(ROOT, p).split('\\').join('/');
}

/** The cycles of the graph: every strongly connected component with more than one file, or a file importing itself. */
function cycles(graph: Map<string, string[]>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

const graph = importGraph();

/** Imports from files matching `from` to files matching `to`, as "a -> b". */
function imports(from: RegExp, to: RegExp, except: RegExp | null = null): string[] {
  const out: string[] = [];
  for (const [file, deps] of graph) {
    if (!from.test(file)) continue;
    for (const d of deps) if (to.test(d) && !(except?.test(d) ?? false)) out.push(`${file} -> ${d}`);
  }
  return out;
}

/** The broker folder a file is in (src/brokers/<name>/...), or null. */
const brokerOf = (f: string): string | null => /^src\/brokers\/([^/]+)\//.exec(f)?.[1] ?? null;

describe('architecture of src/', () => {
  it('reads the import graph (the check below checks something)', () => {
    expect(graph.size).toBeGreaterThan(30);
    expect(graph.get('src/stores/open.ts')).toContain('src/stores/store.ts');
    // a dynamic import() counts
    expect(graph.get('src/stores/open.ts')).toContain('src/stores/s3.ts');
    // the layer rules below see edges: core does import the adapter interface
    expect(imports(/^src\/core\//, /^src\/brokers\/adapter\.ts$/)).not.toEqual([]);
  });

  it('has no import cycles', () => {
    expect(cycles(graph).map((c) => c.join(' <-> '))).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines`, () => {
    const long = [...graph.keys()]
      .map((f) => [f, readFileSync(join(ROOT, f), 'utf8').split('\n').filter((l, i, a) => i < a.length - 1 || l !== '').length] as const)
      .filter(([, n]) => n > MAX_LINES)
      .map(([f, n]) => `${f}: ${n} lines`);
    expect(long).toEqual([]);
  });

  it('src/common imports nothing outside src/common', () => {
    expect(imports(/^src\/common\//, /^src\//, /^src\/common\//)).toEqual([]);
  });

  it('src/archive and src/stores import no broker, core or cli file', () => {
    expect(imports(/^src\/(archive|stores)\//, /^src\/(brokers|core|cli)\//)).toEqual([]);
  });

  it('src/core imports no broker folder: only src/brokers/adapter.ts and src/brokers/registry.ts', () => {
    expect(imports(/^src\/core\//, /^src\/brokers\//, /^src\/brokers\/(adapter|registry)\.ts$/)).toEqual([]);
  });

  it('src/brokers imports no core or cli file', () => {
    expect(imports(/^src\/brokers\//, /^src\/(core|cli)\//)).toEqual([]);
  });

  it("a broker folder imports no other broker's folder", () => {
    const crossing: string[] = [];
    for (const [file, deps] of graph) {
      const own = brokerOf(file);
      if (own === null) continue;
      for (const d of deps) {
        const other = brokerOf(d);
        if (other !== null && other !== own) crossing.push(`${file} -> ${d}`);
      }
    }
    expect(crossing).toEqual([]);
  });
});

// the checker's own logic, on a graph made up here
describe('architecture checker', () => {
  it('finds a cycle through three files and a file importing itself, and nothing in a tree', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['d']],
      ['e', ['a']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c'], ['d']]);
    expect(cycles(new Map([['a', ['b', 'c']], ['b', ['c']], ['c', []]]))).toEqual([]);
  });
});
