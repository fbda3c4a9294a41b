// Summarises V8 CPU profiles (node --cpu-prof) by self time: the functions where a run spends
// its time. usage: node --import tsx bench/profile-summary.ts <file.cpuprofile|dir> [top=25]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const [target, topArg] = process.argv.slice(2);
if (!target) throw new Error('usage: profile-summary.ts <file.cpuprofile|dir> [top]');
const top = Number(topArg ?? 25);
const files = statSync(target).isDirectory()
  ? readdirSync(target).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(target, f))
  : [target];
const root = process.cwd();
for (const f of files) {
  const p = JSON.parse(readFileSync(f, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    const n = byId.get(id);
    if (!n) return;
    const cf = n.callFrame;
    const url = cf.url.replace(/^file:\/\//, '');
    const where = url ? `${relative(root, url) || url}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
  });
  process.stdout.write(`\n${f}: ${(total / 1e6).toFixed(2)} s sampled\n`);
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [k, v] of rows) process.stdout.write(`${((v / total) * 100).toFixed(1).padStart(5)}%  ${(v / 1e3).toFixed(0).padStart(7)} ms  ${k}\n`);
}
