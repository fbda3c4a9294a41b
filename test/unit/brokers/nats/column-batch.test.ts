/**
 * ColumnBatch: the columns of a stream read encode to exactly the bytes the archive stored for
 * the same messages through recordOfCore and archiveRecordOf.
 */
import { describe, expect, it } from 'vitest';
import { columnRecordSize, encodeRecord, writeColumnRecord } from '../../../../src/archive/record-encoder.js';
import { MqbakError } from '../../../../src/common/errors.js';
import type { RecordColumns } from '../../../../src/common/record.js';
import { ColumnBatch } from '../../../../src/brokers/nats/column-batch.js';
import { recordOfCore, type CoreMsg } from '../../../../src/brokers/nats/raw-message.js';
import { archiveRecordOf } from '../../../../src/brokers/nats/records.js';

function msg(subject: Buffer, block: Buffer | null, data: Buffer): CoreMsg {
  const all = Buffer.concat([block ?? Buffer.alloc(0), data]);
  return { _rdata: all, _msg: { subject: new Uint8Array(subject), hdr: block === null ? -1 : block.length } };
}

const b = (s: string, encoding: BufferEncoding = 'utf8') => Buffer.from(s, encoding);

const SUBJECTS = [
  b('orders.eu'),
  b('orders.us'),
  b('a'),
  b('zürich.straße.日本'),
  b('quote"back\\slash'),
  b('ctl\u0001\t\u001f.x'),
  b('emoji.😀'),
  b('line\u2028sep'),
  Buffer.from([0x62, 0xff, 0xfe, 0x2e, 0xc3]), // not UTF-8: decoded with replacement characters
  b('</script>.&amp'),
  b('orders.eu.' + 'x'.repeat(300)),
];

const BLOCKS: Array<Buffer | null> = [
  null,
  b('NATS/1.0\r\n\r\n'),
  b('NATS/1.0\r\nA: 1\r\nB: x\r\nA: 2\r\n\r\n'),
  b('NATS/1.0\r\nA:1\r\nA:  two\r\nEmpty:\r\nEmpty: \r\nbare line\r\n\r\n'),
  b('NATS/1.0\r\nNämé: välue\r\nX-Bin: ', 'utf8'),
  b('NATS/1.0 503\r\nStatus-Like: y\r\n\r\n'),
  b('NATS/1.0\r\n' + Array.from({ length: 20 }, (_, i) => `H${i % 3}: ${'v'.repeat(i * 5)}\r\n`).join('') + '\r\n'),
  b('NATS/1.0\r\nNo-End: kept'),
];

function blockAt(k: number): Buffer | null {
  const block = BLOCKS[k % BLOCKS.length]!;
  // a value whose bytes are not UTF-8, completed here
  if (block !== null && block.toString('latin1').endsWith('X-Bin: ')) return Buffer.concat([block, Buffer.from([0xff, 0x00, 0x80]), b('\r\n\r\n')]);
  return block;
}

function dataAt(k: number): Buffer {
  switch (k % 5) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return b(`payload ${k}`);
    case 2:
      return Buffer.alloc(47 + k, k & 0xff);
    case 3:
      return Buffer.alloc(70_000, 7);
    default:
      return b('{"json":"ü"}');
  }
}

function columnBytes(c: RecordColumns, i: number): Uint8Array {
  const size = columnRecordSize(c, i);
  const out = new Uint8Array(size);
  writeColumnRecord(c, i, size, out, new DataView(out.buffer), 0);
  return out;
}

describe('ColumnBatch', () => {
  it('encodes every message as the archive stores its ArchiveRecord', () => {
    const batch = new ColumnBatch('S');
    let seq = 1;
    let compared = 0;
    for (let round = 0; round < 5; round++) {
      const expected: Uint8Array[] = [];
      const n = 40 + round * 37;
      for (let k = 0; k < n; k++) {
        const m = msg(SUBJECTS[(k * 7 + round) % SUBJECTS.length]!, blockAt(k + round), dataAt(k + round));
        const ts = 1733370000000 + k;
        expected.push(encodeRecord(archiveRecordOf(recordOfCore(m, 'S', seq, ts))));
        batch.add(m, seq, ts);
        seq += 1 + (k % 3);
      }
      expect(batch.count).toBe(n);
      const cols = batch.take();
      expect(batch.count).toBe(0);
      expect(cols.count).toBe(n);
      for (let i = 0; i < n; i++) {
        expect(Buffer.from(columnBytes(cols, i)).equals(Buffer.from(expected[i]!))).toBe(true);
        compared++;
      }
      // the next rounds reuse this round's buffer
      batch.release();
    }
    expect(compared).toBe(40 + 77 + 114 + 151 + 188);
  });

  it('keeps the columns it handed out when it goes on', () => {
    const batch = new ColumnBatch('S');
    batch.add(msg(b('a.b'), b('NATS/1.0\r\nK: v\r\n\r\n'), b('first')), 1, 5);
    const first = batch.take();
    const before = Buffer.from(columnBytes(first, 0));
    for (let k = 0; k < 50; k++) batch.add(msg(b('c.d'), b('NATS/1.0\r\nZ: zz\r\n\r\n'), Buffer.alloc(100, 9)), 2 + k, 6);
    batch.take();
    expect(Buffer.from(columnBytes(first, 0)).equals(before)).toBe(true);
  });

  it('refuses an unreadable header block or header name, and goes on with the next message', () => {
    const batch = new ColumnBatch('ORDERS');
    batch.add(msg(b('a'), null, b('ok')), 1, 0);
    const bad = () => batch.add(msg(b('a'), b('HTTP/1.1\r\n\r\n'), b('x')), 12, 0);
    expect(bad).toThrow(MqbakError);
    expect(bad).toThrow(/stream ORDERS message 12: unreadable header block/);
    const badName = Buffer.concat([b('NATS/1.0\r\nGood: 1\r\n'), Buffer.from([0xff, 0x3a, 0x20, 0x31]), b('\r\n\r\n')]);
    expect(() => batch.add(msg(b('a'), badName, b('x')), 13, 0)).toThrow(/message 13/);
    expect(() => batch.add({ _rdata: Buffer.from('NATS'), _msg: { subject: b('a'), hdr: 9 } }, 14, 0)).toThrow(/header block of 9 bytes/);
    const m = msg(b('a'), b('NATS/1.0\r\nK: v\r\n\r\n'), b('y'));
    batch.add(m, 15, 0);
    const cols = batch.take();
    expect(cols.count).toBe(2);
    expect(Array.from(cols.position)).toEqual([1, 15]);
    expect(Buffer.from(columnBytes(cols, 1)).equals(Buffer.from(encodeRecord(archiveRecordOf(recordOfCore(m, 'ORDERS', 15, 0)))))).toBe(true);
  });
});
