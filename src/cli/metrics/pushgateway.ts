/**
 * --pushgateway: the run's metrics pushed to a Prometheus Pushgateway, grouped by job (--metrics-job,
 * default mqbak) and by the store and source, so that each backup job has a group of its own.
 * Label values go base64-encoded in the URL path (the Pushgateway's `label@base64` form), so any
 * character is safe. A successful run replaces its group (PUT); a failed run only replaces the
 * metrics it sends (POST) and sends no success time, so the group keeps the last success.
 * A push that fails is the caller's warning, never a failed run.
 */
import { MqbakError, messageOf } from '../../common/errors.js';

export interface PushTarget {
  /** http(s)://host:port[/path], without credentials */
  url: string;
  /** basic auth from user:password@ in the URL */
  authorization: string | null;
  /** the URL fit to print */
  redacted: string;
}

/** Checks a Pushgateway URL before any work. */
export function parsePushgatewayUrl(text: string): PushTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new MqbakError('usage', `--pushgateway ${JSON.stringify(text)}: not a URL`, { hint: 'e.g. http://pushgateway:9091' });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new MqbakError('usage', `--pushgateway ${u.protocol}//...: expected http:// or https://`);
  if (u.search || u.hash) throw new MqbakError('usage', '--pushgateway: the URL takes no query or fragment');
  const authorization = u.username ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}` : null;
  const user = u.username;
  u.username = '';
  u.password = '';
  const url = u.toString().replace(/\/+$/, '');
  const redacted = user ? url.replace('://', `://${user}:***@`) : url;
  return { url, authorization, redacted };
}

function b64url(s: string): string {
  return Buffer.from(s, 'utf8').toString('base64url');
}

/** The grouping key's URL path: /metrics/job@base64/<job>/<label>@base64/<value>... */
export function groupPath(job: string, grouping: Readonly<Record<string, string>>): string {
  if (job === '') throw new MqbakError('usage', '--metrics-job: the job name is empty');
  let path = `/metrics/job@base64/${b64url(job)}`;
  for (const [k, v] of Object.entries(grouping).sort(([a], [b]) => (a < b ? -1 : 1))) {
    // an empty value must be written as '=' in the base64 form
    path += `/${k}@base64/${v === '' ? '=' : b64url(v)}`;
  }
  return path;
}

export async function pushMetrics(
  target: PushTarget,
  job: string,
  grouping: Readonly<Record<string, string>>,
  text: string,
  options: { replace: boolean; timeoutMs?: number; signal?: AbortSignal },
): Promise<void> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const headers: Record<string, string> = { 'content-type': 'text/plain; version=0.0.4' };
  if (target.authorization) headers.authorization = target.authorization;
  let res: Response;
  try {
    res = await fetch(`${target.url}${groupPath(job, grouping)}`, { method: options.replace ? 'PUT' : 'POST', headers, body: text, signal });
  } catch (e) {
    const why = timeout.aborted ? `no answer in ${(options.timeoutMs ?? 10_000) / 1000} s` : messageOf((e as { cause?: unknown }).cause ?? e);
    throw new MqbakError('unreachable', `push metrics to ${target.redacted}: ${why}`);
  }
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).trim().slice(0, 300);
    throw new MqbakError('unreachable', `push metrics to ${target.redacted}: HTTP ${res.status}${body ? `: ${body}` : ''}`);
  }
}
