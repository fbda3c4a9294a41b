/**
 * Metrics in the Prometheus text exposition format (version 0.0.4), as node_exporter's textfile
 * collector and the Pushgateway read it. Names follow Prometheus conventions: a `mqbak_` prefix,
 * base units in the name (`_seconds`, `_bytes`), `_total` only on counters.
 */
import { MqbakError } from '../../common/errors.js';

export interface Sample {
  labels?: Readonly<Record<string, string>>;
  value: number;
}

export interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function value(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function labelValue(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function helpText(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** The metrics as exposition text; metrics without samples are left out. */
export function formatMetrics(metrics: readonly Metric[]): string {
  const seen = new Set<string>();
  let out = '';
  for (const m of metrics) {
    if (!NAME.test(m.name)) throw new MqbakError('internal', `metric name ${JSON.stringify(m.name)} is not valid`);
    if (seen.has(m.name)) throw new MqbakError('internal', `metric ${m.name} given twice`);
    seen.add(m.name);
    if (m.type === 'counter' !== m.name.endsWith('_total')) throw new MqbakError('internal', `metric ${m.name}: only counters end in _total`);
    if (m.samples.length === 0) continue;
    out += `# HELP ${m.name} ${helpText(m.help)}\n# TYPE ${m.name} ${m.type}\n`;
    for (const s of m.samples) {
      const entries = Object.entries(s.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [k] of entries) if (!LABEL.test(k) || k.startsWith('__')) throw new MqbakError('internal', `metric ${m.name}: label name ${JSON.stringify(k)} is not valid`);
      const labels = entries.length > 0 ? `{${entries.map(([k, v]) => `${k}="${labelValue(v)}"`).join(',')}}` : '';
      out += `${m.name}${labels} ${value(s.value)}\n`;
    }
  }
  return out;
}

/** The value of the first sample of `name` in exposition text whose labels include `labels`, or null. */
export function sampleValue(text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | null {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const m = /^[^{ ]+(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const have = new Map<string, string>();
    for (const p of (m[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      have.set(p[1]!, p[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c)));
    }
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) {
      const v = Number(m[2] === '+Inf' ? Infinity : m[2] === '-Inf' ? -Infinity : m[2]);
      return Number.isNaN(v) && m[2] !== 'NaN' ? null : v;
    }
  }
  return null;
}
