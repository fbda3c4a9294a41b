/**
 * recordOfCore: the record of a message as the core client received it, the header block and
 * data as views of the received bytes, the subject decoded (or found among recent ones).
 */
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import { coreFields, recordOfCore, subjectOf, type CoreMsg } from '../../../../src/brokers/nats/raw-message.js';

const enc = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

function msg(subject: string, block: string | null, data: string): CoreMsg {
  const all = Buffer.from((block ?? '') + data, 'latin1');
  return { _rdata: all, _msg: { subject: enc(subject), hdr: block === null ? -1 : block.length } };
}

describe('recordOfCore', () => {
  it('splits header block and data, keeping repeated names in order', () => {
    const r = recordOfCore(msg('orders.eu', 'NATS/1.0\r\nA: 1\r\nB: x\r\nA: 2\r\n\r\n', 'payload'), 'S', 7, 1733370000123);
    expect(r.seq).toBe(7);
    expect(r.timestamp).toBe(1733370000123);
    expect(r.subject).toBe('orders.eu');
    expect(r.headers.map((h) => [h.name, Buffer.from(h.value!).toString()])).toEqual([
      ['A', '1'],
      ['B', 'x'],
      ['A', '2'],
    ]);
    expect(Buffer.from(r.data).toString()).toBe('payload');
  });

  it('takes everything as data when there is no header block, and an empty payload as empty', () => {
    const r = recordOfCore(msg('a', null, 'xyz'), 'S', 1, 0);
    expect(r.headers).toEqual([]);
    expect(Buffer.from(r.data).toString()).toBe('xyz');
    expect(recordOfCore(msg('a', 'NATS/1.0\r\nK: v\r\n\r\n', ''), 'S', 1, 0).data.length).toBe(0);
    expect(recordOfCore({ _msg: { subject: enc('a'), hdr: -1 } }, 'S', 1, 0).data.length).toBe(0);
  });

  it('gives views of the bytes received at an offset of their buffer', () => {
    const backing = Buffer.from('junk' + 'NATS/1.0\r\nK: v\r\n\r\n' + 'data' + 'more', 'latin1');
    const all = backing.subarray(4, 4 + 18 + 4);
    const r = recordOfCore({ _rdata: all, _msg: { subject: enc('s'), hdr: 18 } }, 'S', 1, 0);
    expect(Buffer.from(r.data).toString()).toBe('data');
    expect(Buffer.from(r.headers[0]!.value!).toString()).toBe('v');
    expect(r.data.buffer).toBe(backing.buffer);
  });

  it('reports an unreadable header block as an integrity error naming stream and sequence', () => {
    expect(() => recordOfCore(msg('a', 'HTTP/1.1\r\n\r\n', 'x'), 'ORDERS', 12, 0)).toThrow(MqbakError);
    expect(() => recordOfCore(msg('a', 'HTTP/1.1\r\n\r\n', 'x'), 'ORDERS', 12, 0)).toThrow(/stream ORDERS message 12/);
  });
});

describe('subjectOf', () => {
  it('decodes UTF-8 and tells apart subjects of the same length that differ anywhere', () => {
    const names = ['orders.1', 'orders.2', 'xrders.1', 'orders.1', 'comm\u00e4nde', 'orders.2'];
    for (let round = 0; round < 3; round++) {
      for (const n of names) expect(subjectOf(new Uint8Array(Buffer.from(n, 'utf8')))).toBe(n);
    }
    // more subjects than are kept
    for (let i = 0; i < 50; i++) expect(subjectOf(enc(`s.${i % 20}`))).toBe(`s.${i % 20}`);
  });

  it('is not fooled by a subject whose bytes were reused', () => {
    const buf = enc('abc.def');
    expect(subjectOf(buf)).toBe('abc.def');
    buf.set(enc('abc.deg'));
    expect(subjectOf(buf)).toBe('abc.deg');
  });
});

describe('coreFields', () => {
  it('refuses an object that is not a message of the pinned client', () => {
    expect(() => coreFields({})).toThrow(/pinned @nats-io client/);
    expect(() => coreFields({ _msg: { subject: 'a', hdr: -1 } })).toThrow(MqbakError);
    expect(coreFields({ _msg: { subject: enc('a'), hdr: -1 } })._msg.hdr).toBe(-1);
  });
});
