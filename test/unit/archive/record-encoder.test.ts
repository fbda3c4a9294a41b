// writeColumnRecord copies short spans by 4-byte words and long ones through a view of their own:
// every length, at odd places of the source and of the block, gives the bytes encodeRecord gives.
import { describe, expect, it } from 'vitest';
import { columnRecordSize, encodeRecord, writeColumnRecord } from '../../../src/archive/record-encoder.js';
import { columnsOf, type ArchiveRecord, type RecordColumns } from '../../../src/common/record.js';
import { pseudoRandomBytes } from '../../helpers/random.js';

const record = (position: number, n: number): ArchiveRecord => ({
  position: BigInt(position),
  timestamp: 1_700_000_000_000 + position,
  timestampType: 'create',
  key: pseudoRandomBytes(n, position + 1),
  value: pseudoRandomBytes(n * 3 + 1, position + 2),
  headers: [
    { name: 'n'.repeat(Math.max(1, n)), value: pseudoRandomBytes(n, position + 3) },
    { name: 'x', value: null },
    { name: 'é-' + 'y'.repeat(n % 7), value: pseudoRandomBytes((n * 5) % 131, position + 4) },
  ],
  attributes: n % 2 === 0 ? null : { note: 'z'.repeat(n) },
});

/** The same columns over a copy of their bytes that starts `shift` bytes into a larger buffer. */
function shifted(cols: RecordColumns, shift: number): RecordColumns {
  const big = Buffer.alloc(cols.bytes.length + shift + 5, 0xee);
  big.set(cols.bytes, shift);
  return { ...cols, bytes: big.subarray(shift, shift + cols.bytes.length) };
}

function written(cols: RecordColumns, i: number, at: number): Buffer {
  const size = columnRecordSize(cols, i);
  const out = Buffer.alloc(size + at + 3, 0xaa);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  expect(writeColumnRecord(cols, i, size, out, dv, at)).toBe(at + size);
  // nothing written outside the record's place
  expect(out.subarray(0, at).every((b) => b === 0xaa)).toBe(true);
  expect(out.subarray(at + size).every((b) => b === 0xaa)).toBe(true);
  return out.subarray(at, at + size);
}

describe('writeColumnRecord', () => {
  it('gives the bytes of encodeRecord for spans of every length from 0 to 140, at odd offsets', () => {
    const records = Array.from({ length: 141 }, (_, n) => record(n, n));
    const base = columnsOf(records);
    for (const shift of [0, 1, 3]) {
      const cols = shifted(base, shift);
      for (let i = 0; i < records.length; i++) {
        expect(written(cols, i, (i * 7) % 5).equals(Buffer.from(encodeRecord(records[i]!))), `record ${i}, bytes shifted by ${shift}`).toBe(true);
      }
    }
  });

  it('reads each record from its own columns when records of two sets of columns alternate', () => {
    const a = Array.from({ length: 20 }, (_, n) => record(n, 70 + n));
    const b = Array.from({ length: 20 }, (_, n) => record(n + 100, 3 + n));
    const ca = shifted(columnsOf(a), 1);
    const cb = shifted(columnsOf(b), 2);
    for (let i = 0; i < 20; i++) {
      expect(written(ca, i, 0).equals(Buffer.from(encodeRecord(a[i]!))), `a ${i}`).toBe(true);
      expect(written(cb, i, 1).equals(Buffer.from(encodeRecord(b[i]!))), `b ${i}`).toBe(true);
    }
  });
});
