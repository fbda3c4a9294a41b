/**
 * The pure parts of the NATS broker code: URLs, the header block codec, subject matching and
 * renaming, and the configs a restore creates.
 */
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../src/common/errors.js';
import {
  consumedThrough,
  encodeHeaderBlock,
  parseHeaderBlock,
  parseNatsUrl,
  redactNatsUrl,
  restoredConsumerConfig,
  restoredStreamConfig,
  subjectMatches,
  subjectRenamer,
  unwritableHeader,
  type SavedConsumer,
} from '../../src/brokers/nats/index.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const text = (u: Uint8Array | null): string | null => (u === null ? null : Buffer.from(u).toString('latin1'));

function usageError(f: () => unknown): MqbakError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('usage');
    return e as MqbakError;
  }
  throw new Error('no error thrown');
}

describe('NATS URLs', () => {
  it('parses hosts, ports, credentials and tokens', () => {
    expect(parseNatsUrl('nats://127.0.0.1:4333')).toMatchObject({ servers: ['127.0.0.1:4333'], user: undefined, tls: false });
    expect(parseNatsUrl('nats://localhost')).toMatchObject({ servers: ['localhost:4222'] });
    const t = parseNatsUrl('nats://bob:p%40ss:w@a.example:1,b.example,[::1]:5');
    expect(t).toMatchObject({ servers: ['a.example:1', 'b.example:4222', '[::1]:5'], user: 'bob', pass: 'p@ss:w', token: undefined });
    expect(t.redacted).toBe('nats://bob:***@a.example:1,b.example,[::1]:5');
    expect(parseNatsUrl('tls://s3cr3t@h:4222')).toMatchObject({ token: 's3cr3t', tls: true, redacted: 'tls://***@h:4222' });
    expect(parseNatsUrl('nats://h1:1,nats://h2:2/').servers).toEqual(['h1:1', 'h2:2']);
  });

  it('refuses bad URLs with a usage error that never shows the password', () => {
    for (const bad of ['localhost:4222', 'http://h:4222', 'nats://', 'nats://h:0', 'nats://h:99999', 'nats://h:12a', 'nats://h/stream', 'nats://h?x=1', 'nats://a b', 'nats://u:secret@h:1:2', 'nats://:pw@h']) {
      const e = usageError(() => parseNatsUrl(bad));
      expect(e.message).not.toContain('secret');
      expect(e.hint).toMatch(/nats:\/\//);
    }
    expect(redactNatsUrl('nats://u:secret@h')).toBe('nats://u:***@h');
    expect(redactNatsUrl('nats://h:1')).toBe('nats://h:1');
  });
});

describe('NATS header block', () => {
  it('keeps order, repeats, case, spaces, empty values and bytes that are not UTF-8', () => {
    const block = b('NATS/1.0\r\nB: 1\r\nA: x\r\nB: 2\r\nlower-Case:  spaced  \r\nEmpty:\r\nE2: \r\nBin:\xff\x00\x80\r\nbare\r\n\r\n');
    const { headers, status } = parseHeaderBlock(block);
    expect(status).toBe('');
    expect(headers.map((h) => [h.name, text(h.value)])).toEqual([
      ['B', '1'],
      ['A', 'x'],
      ['B', '2'],
      ['lower-Case', ' spaced  '],
      ['Empty', ''],
      ['E2', ''],
      ['Bin', '\xff\x00\x80'],
      ['bare', null],
    ]);
    // written back: the same bytes except "Empty:" gains the separating space
    const again = encodeHeaderBlock(headers)!;
    expect(text(again)).toBe('NATS/1.0\r\nB: 1\r\nA: x\r\nB: 2\r\nlower-Case:  spaced  \r\nEmpty: \r\nE2: \r\nBin: \xff\x00\x80\r\nbare\r\n\r\n');
    expect(parseHeaderBlock(again).headers).toEqual(headers);
  });

  it('writes nothing for no headers, a Nats-Msg-Id like any other line, and refuses line breaks', () => {
    expect(encodeHeaderBlock([])).toBeUndefined();
    const out = encodeHeaderBlock([{ name: 'Nats-Msg-Id', value: b('orig') }, { name: 'X', value: b('1') }])!;
    expect(text(out)).toBe('NATS/1.0\r\nNats-Msg-Id: orig\r\nX: 1\r\n\r\n');
    expect(unwritableHeader({ name: 'a\r\nb', value: b('') })).toMatch(/line break/);
    expect(unwritableHeader({ name: 'a', value: b('x\ny') })).toMatch(/line break/);
    expect(unwritableHeader({ name: 'a:b', value: b('x') })).toMatch(/colon/);
    expect(unwritableHeader({ name: '', value: b('x') })).toMatch(/empty/);
    expect(() => encodeHeaderBlock([{ name: 'a', value: b('x\ry') }])).toThrow(/line break/);
    expect(parseHeaderBlock(b('NATS/1.0 503 No Responders\r\n\r\n')).status).toBe('503 No Responders');
    expect(() => parseHeaderBlock(b('HTTP/1.1\r\n\r\n'))).toThrow(/NATS\/1.0/);
  });
});

describe('NATS subjects', () => {
  it('matches * and > as the server does', () => {
    expect(subjectMatches('a.>', 'a.b')).toBe(true);
    expect(subjectMatches('a.>', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('a.*', 'a.b')).toBe(true);
    expect(subjectMatches('a.*', 'a.b.c')).toBe(false);
    expect(subjectMatches('a.*.c', 'a.x.c')).toBe(true);
    expect(subjectMatches('a.b', 'a.b')).toBe(true);
    expect(subjectMatches('a.b', 'a.bc')).toBe(false);
    expect(subjectMatches('>', 'anything.at.all')).toBe(true);
  });

  it('renames subjects and filters wildcard by wildcard, and refuses rules whose wildcards differ', () => {
    const r = subjectRenamer([
      { from: 'orders.*.eu', to: 'copy.*.europe' },
      { from: 'orders.>', to: 'restored.orders.>' },
    ]);
    expect(r('orders.7.eu')).toBe('copy.7.europe');
    expect(r('orders.7.us.x')).toBe('restored.orders.7.us.x');
    expect(r('other.x')).toBe('other.x');
    expect(r('orders.>')).toBe('restored.orders.>');
    expect(r('orders.*.eu')).toBe('copy.*.europe');
    usageError(() => subjectRenamer([{ from: 'a.>', to: 'b.*' }]));
    usageError(() => subjectRenamer([{ from: 'a.*', to: 'b' }]));
  });
});

describe('restored configs', () => {
  it('renames a stream and its subjects, drops mirror and sources, and keeps the saved duplicate window', () => {
    const saved = { name: 'ORDERS', subjects: ['orders.>'], retention: 'limits', duplicate_window: 120_000_000_000, sources: [{ name: 'X' }], max_msgs: 10 } as never;
    const c = restoredStreamConfig(saved, { name: 'ORDERS2', renameSubject: subjectRenamer([{ from: 'orders.>', to: 'o2.>' }]) });
    expect(c).toMatchObject({ name: 'ORDERS2', subjects: ['o2.>'], retention: 'limits', max_msgs: 10, duplicate_window: 120_000_000_000 });
    expect('sources' in c).toBe(false);
  });

  it('starts a consumer at the given sequence with its filters renamed', () => {
    const saved: SavedConsumer = {
      stream: 'S',
      name: 'c1',
      config: { durable_name: 'c1', ack_policy: 'explicit', deliver_policy: 'all', filter_subject: 'orders.eu.>', max_deliver: 5 } as never,
      delivered: { consumerSeq: 9, streamSeq: 12 },
      ackFloor: { consumerSeq: 4, streamSeq: 6 },
      numAckPending: 5,
      numPending: 3,
      numRedelivered: 0,
    };
    expect(consumedThrough(saved)).toBe(6);
    expect(consumedThrough({ ...saved, config: { ...saved.config, ack_policy: 'none' } as never })).toBe(12);
    const c = restoredConsumerConfig(saved, { startSeq: 40, renameSubject: subjectRenamer([{ from: 'orders.>', to: 'o2.>' }]) });
    expect(c).toMatchObject({ durable_name: 'c1', ack_policy: 'explicit', deliver_policy: 'by_start_sequence', opt_start_seq: 40, filter_subject: 'o2.eu.>', max_deliver: 5 });
  });
});
