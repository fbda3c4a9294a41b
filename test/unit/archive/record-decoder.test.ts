// The column decoder of archive records (what a Kafka restore reads with) against the record
// decoder: the same records, and the same refusals, for well-formed and for damaged records.
import { describe, expect, it } from 'vitest';
import { columnRecordSize, encodeRecord, writeColumnRecord } from '../../../src/archive/record-encoder.js';
import { decodeRecordAt, decodeRecordColumns } from '../../../src/archive/record-decoder.js';
import { ColumnsBuilder, columnRecord, columnsOf, type ArchiveRecord } from '../../../src/common/record.js';
import { utf8NameChecker } from '../../../src/common/utf8-names.js';

const enc = (s: string) => new TextEncoder().encode(s);

const records: ArchiveRecord[] = [
  { position: 0n, timestamp: 1_700_000_000_000, timestampType: 'create', key: enc('k'), value: enc('v'), headers: [{ name: 'a', value: enc('1') }, { name: 'a', value: null }], attributes: null },
  { position: 5n, timestamp: null, timestampType: null, key: null, value: null, headers: [], attributes: null },
  { position: 6n, timestamp: -5, timestampType: 'log-append', key: new Uint8Array(0), value: new Uint8Array(0), headers: [{ name: 'ünï ☃', value: new Uint8Array(0) }], attributes: null },
  { position: 7n, timestamp: 3, timestampType: null, key: null, value: enc('m'), headers: [], attributes: { routingKey: 'jobs', exchange: '', list: [1, 'two', null, true, { b: -0.5 }] } },
  { position: 8n, timestamp: null, timestampType: null, key: null, value: null, headers: [], attributes: 'just a string' },
  { position: 2n ** 53n - 1n, timestamp: 2 ** 52, timestampType: 'create', key: enc('x'.repeat(300)), value: enc('y'.repeat(5000)), headers: [], attributes: null },
];

function columns(buf: Uint8Array) {
  const out = new ColumnsBuilder(1, 1);
  const next = decodeRecordColumns(buf, 0, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), out, utf8NameChecker());
  return { cols: out.finish(buf), next };
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts));
}

describe('decodeRecordColumns', () => {
  it('gives the records decodeRecordAt gives, and stops before a record it does not hold whole', () => {
    const bytes = concat(records.map((r) => encodeRecord(r)));
    const whole = columns(bytes);
    expect(whole.next).toBe(bytes.length);
    expect(Array.from({ length: whole.cols.count }, (_, i) => columnRecord(whole.cols, i))).toEqual(records);
    // cut inside the last record: three records, and the offset where the fourth starts
    const cut = columns(bytes.subarray(0, bytes.length - 10));
    expect(cut.cols.count).toBe(records.length - 1);
    expect(cut.next).toBe(bytes.length - encodeRecord(records[records.length - 1]!).length);
  });

  it('carries the attributes part: columnsOf and writeColumnRecord give the bytes encodeRecord gives', () => {
    const cols = columnsOf(records);
    expect(Array.from(cols.attributeLength, (n) => n >= 0)).toEqual(records.map((r) => r.attributes !== null));
    for (let i = 0; i < cols.count; i++) {
      const size = columnRecordSize(cols, i);
      const out = new Uint8Array(size);
      expect(writeColumnRecord(cols, i, size, out, new DataView(out.buffer), 0)).toBe(size);
      expect(Buffer.from(out).equals(Buffer.from(encodeRecord(records[i]!))), `record ${i}`).toBe(true);
    }
    // a builder grown past its first size still says "no attributes" for records nobody filled
    const b = new ColumnsBuilder(1, 1);
    for (let i = 0; i < 20; i++) {
      if (b.count === b.position.length) b.growRecords();
      b.count++;
    }
    expect(Array.from(b.finish(new Uint8Array(0)).attributeLength).every((n) => n === -1)).toBe(true);
  });

  const base = encodeRecord(records[0]!);
  // offsets in base (see record-codec.ts): u32 len, i64 position @4, u8 flag @12, i64 ts @13, u8 type @21, key @22
  const damaged: Array<[string, (b: Uint8Array, dv: DataView) => void]> = [
    ['a bad timestamp flag', (b) => (b[12] = 2)],
    ['a bad timestamp type', (b) => (b[21] = 9)],
    ['a timestamp without its flag', (b) => (b[12] = 0)],
    ['a key running past the end', (_b, dv) => dv.setUint32(22, 1000, true)],
    ['a header count that does not fit', (_b, dv) => dv.setUint32(22 + 4 + 1 + 4 + 1, 1000, true)],
    ['a null header name', (_b, dv) => dv.setUint32(22 + 4 + 1 + 4 + 1 + 4, 0xffffffff, true)],
    ['a header name that is not UTF-8', (b) => (b[22 + 4 + 1 + 4 + 1 + 4 + 4] = 0xff)],
    ['bytes left over', (_b, dv) => dv.setUint32(0, dv.getUint32(0, true) + 4, true)],
    ['a length too small', (_b, dv) => dv.setUint32(0, 3, true)],
  ];
  for (const [what, damage] of damaged) {
    it(`refuses ${what} as decodeRecordAt does`, () => {
      const b = Uint8Array.from(base);
      const dv = new DataView(b.buffer);
      damage(b, dv);
      const padded = concat([b, new Uint8Array(8)]); // room for the length change
      const expected = (() => {
        try {
          decodeRecordAt(padded, 0);
        } catch (e) {
          return e as Error;
        }
        return null;
      })();
      expect(expected, 'decodeRecordAt refuses it').not.toBeNull();
      expect(() => columns(padded)).toThrow(expected!.message);
    });
  }

  it('refuses attributes that are not JSON, both decoders with the same message', () => {
    const b = encodeRecord({ ...records[0]!, attributes: { a: 1 } });
    b[b.length - 2] = 0x7b; // {"a":1} -> {"a":{}: no longer JSON
    expect(() => decodeRecordAt(b, 0)).toThrow(/record 0: attributes: /);
    expect(() => columns(b)).toThrow(/record 0: attributes: /);
  });

  it('refuses a position of 2^53 or more (not exact as a number)', () => {
    const b = encodeRecord({ ...records[0]!, position: 2n ** 53n });
    expect(() => columns(b)).toThrow(/outside the stream's range/);
  });
});
