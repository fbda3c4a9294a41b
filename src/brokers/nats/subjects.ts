/**
 * NATS subjects: whether a stream's subject filter takes a subject, and renaming subjects on
 * restore (a stream restored beside its original must listen on other subjects, since two
 * streams cannot share one, and its messages must then carry those subjects).
 */
import { MqbakError } from '../../common/errors.js';

/** True when `subject` (no wildcards) matches `filter` ('*' one token, '>' one or more at the end). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    const t = f[i]!;
    if (t === '>') return i === f.length - 1 && s.length > i;
    if (i >= s.length) return false;
    if (t !== '*' && t !== s[i]) return false;
  }
  return f.length === s.length;
}

/** True when any of the filters matches. */
export function anySubjectMatches(filters: readonly string[], subject: string): boolean {
  return filters.some((f) => subjectMatches(f, subject));
}

export interface SubjectRename {
  /** A subject filter, e.g. orders.> or orders.*.eu */
  from: string;
  /** The same wildcards in the same order, e.g. restored.orders.> */
  to: string;
}

/**
 * A function renaming subjects by the first rule whose `from` matches; subjects no rule matches
 * stay as they are. Each wildcard of `from` hands its token(s) to the same wildcard of `to`.
 * Applied to filters (stream subjects, consumer filters), a wildcard maps to itself.
 */
export function subjectRenamer(rules: readonly SubjectRename[]): (subject: string) => string {
  for (const r of rules) {
    const wild = (p: string): string[] => p.split('.').filter((t) => t === '*' || t === '>');
    const a = wild(r.from);
    const b = wild(r.to);
    if (a.join('.') !== b.join('.') || (r.to.includes('>') && !r.to.endsWith('>'))) {
      throw new MqbakError('usage', `subject mapping ${r.from}=${r.to}: both sides need the same wildcards in the same order`, {
        hint: 'e.g. orders.>=restored.orders.> or orders.*.eu=copy.orders.*.eu',
      });
    }
  }
  if (rules.length === 0) return (s) => s;
  return (subject: string): string => {
    for (const r of rules) {
      if (!subjectMatches(r.from, subject) && r.from !== subject) continue;
      const s = subject.split('.');
      const f = r.from.split('.');
      const captured: string[] = [];
      f.forEach((t, i) => {
        if (t === '*') captured.push(s[i]!);
        else if (t === '>') captured.push(s.slice(i).join('.'));
      });
      let k = 0;
      return r.to
        .split('.')
        .map((t) => (t === '*' || t === '>' ? captured[k++]! : t))
        .join('.');
    }
    return subject;
  };
}
