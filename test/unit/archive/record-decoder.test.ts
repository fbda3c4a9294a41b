// The column decoder of archive records (what a Kafka restore reads with) and the record scanner
// (what verify reads with) against the record decoder: the same records, and the same refusals,
// for well-formed and for damaged records.
import { describe, expect, it } from 'vitest';
import { xorshift32 } from '../../helpers/random.js';
import { columnRecordSize, encodeRecord, writeColumnRecord } from '../../../src/archive/record-encoder.js';
import { decodeRecordAt, decodeRecordColumns, scanRecords } from '../../../src/archive/record-decoder.js';
import { ColumnsBuilder, columnRecord, columnsOf, type ArchiveRecord } from '../../../src/common/record.js';
import { utf8NameChecker } from '../../../src/common/utf8-names.js';
import { attributesCheck, type AttributesCheck } from '../../../src/archive/attributes-check.js';

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

/** What the record decoder and the segment reader's object path make of buf: records, or the error. */
function objectsOutcome(buf: Uint8Array, lastPosition: bigint | null): unknown {
  const out: ArchiveRecord[] = [];
  let off = 0;
  try {
    for (;;) {
      const d = decodeRecordAt(buf, off);
      if (d === null) break;
      if (lastPosition !== null && d.record.position <= lastPosition) throw new Error(`position ${d.record.position} does not follow ${lastPosition}`);
      lastPosition = d.record.position;
      out.push(d.record);
      off = d.next;
    }
  } catch (e) {
    return { error: (e as Error).message };
  }
  const n = out.length;
  return n === 0
    ? { count: 0, next: off, firstPosition: 0n, lastPosition: 0n, firstTimestamp: null, lastTimestamp: null }
    : { count: n, next: off, firstPosition: out[0]!.position, lastPosition: out[n - 1]!.position, firstTimestamp: out[0]!.timestamp, lastTimestamp: out[n - 1]!.timestamp };
}

function scanOutcome(buf: Uint8Array, lastPosition: bigint | null, checkAttributes?: AttributesCheck): unknown {
  try {
    return scanRecords(buf, new DataView(buf.buffer, buf.byteOffset, buf.byteLength), utf8NameChecker(), lastPosition, checkAttributes);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

function columnsOutcome(buf: Uint8Array): unknown {
  try {
    return columns(buf).cols.count;
  } catch (e) {
    return { error: (e as Error).message };
  }
}

/** Numbers in [0, 1), the same for the same seed. */
function uniform(seed: number): () => number {
  const next = xorshift32(seed);
  return () => next() / 2 ** 32;
}

describe('scanRecords', () => {
  it('finds what the record decoder finds: count, first and last positions and timestamps, where the whole records end', () => {
    const bytes = concat(records.map((r) => encodeRecord(r)));
    expect(scanOutcome(bytes, null)).toEqual(objectsOutcome(bytes, null));
    expect(scanOutcome(bytes, null)).toMatchObject({ count: records.length, next: bytes.length, firstPosition: 0n, lastPosition: 2n ** 53n - 1n, lastTimestamp: 2 ** 52 });
    const cut = bytes.subarray(0, bytes.length - 10);
    expect(scanOutcome(cut, null)).toEqual(objectsOutcome(cut, null));
    expect(scanOutcome(new Uint8Array(3), null)).toEqual(objectsOutcome(new Uint8Array(3), null));
  });

  it('reads any 64-bit position, where the column decoder stops at 2^53', () => {
    const wide = [-(2n ** 63n), -(2n ** 32n) - 1n, -1n, 0n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 63n - 1n];
    const bytes = concat(wide.map((position) => encodeRecord({ ...records[1]!, position })));
    expect(scanOutcome(bytes, null)).toMatchObject({ count: wide.length, firstPosition: -(2n ** 63n), lastPosition: 2n ** 63n - 1n });
    expect(scanOutcome(bytes, null)).toEqual(objectsOutcome(bytes, null));
  });

  it('refuses positions that do not strictly increase, also from the block before, as the segment reader does', () => {
    const pairs: Array<[bigint, bigint]> = [[5n, 5n], [5n, 4n], [2n ** 32n, 2n ** 32n - 1n], [-1n, -2n], [2n ** 40n + 7n, 2n ** 40n + 7n], [0n, -(2n ** 63n)]];
    for (const [a, b] of pairs) {
      const bytes = concat([encodeRecord({ ...records[1]!, position: a }), encodeRecord({ ...records[1]!, position: b })]);
      expect(scanOutcome(bytes, null)).toEqual({ error: `position ${b} does not follow ${a}` });
      expect(scanOutcome(bytes.subarray(encodeRecord({ ...records[1]!, position: a }).length), a)).toEqual({ error: `position ${b} does not follow ${a}` });
    }
    const ok = encodeRecord({ ...records[1]!, position: 2n ** 32n });
    expect(scanOutcome(ok, 2n ** 32n - 1n)).toMatchObject({ count: 1 });
    expect(scanOutcome(ok, 2n ** 32n)).toEqual({ error: `position ${2n ** 32n} does not follow ${2n ** 32n}` });
  });

  for (const [what, damage] of damaged) {
    it(`refuses ${what} with the record decoder's message`, () => {
      const b = Uint8Array.from(base);
      damage(b, new DataView(b.buffer));
      const padded = concat([b, new Uint8Array(8)]);
      const expected = objectsOutcome(padded, null);
      expect(expected).toHaveProperty('error');
      expect(scanOutcome(padded, null)).toEqual(expected);
    });
  }

  it('on randomly damaged records (AMQP attributes, Kafka headers) finds every damage the record decoder finds, with its message', () => {
    const rand = uniform(3);
    const amqp = (i: number) => ({
      exchange: '',
      properties: { contentType: 'application/json', deliveryMode: 2, headers: [{ name: 'traceparent', value: { type: 'string', value: `00-${i}-01` } }], messageId: `user-${i}-0`, timestamp: 1764000000 },
      redelivered: false,
      routingKey: 'jobs',
    });
    const good: ArchiveRecord[] = [];
    for (let i = 0; i < 12; i++) {
      good.push(
        i % 2 === 0
          ? { position: BigInt(i * 3), timestamp: 1764000000000 + i, timestampType: null, key: null, value: enc(`{"n":${i}}`), headers: [], attributes: amqp(i) }
          : { position: BigInt(i * 3), timestamp: 1700000000000 + i, timestampType: 'create', key: enc(`user-${i}`), value: enc('v'.repeat(i)), headers: [{ name: 'content-type', value: enc('application/json') }, { name: 'event-type', value: null }], attributes: null },
      );
    }
    const clean = concat(good.map((r) => encodeRecord(r)));
    expect(scanOutcome(clean, null)).toEqual(objectsOutcome(clean, null));
    // as verify scans: one attributes check over every block, which keeps the last part it passed as a template
    const checkAttributes = attributesCheck();
    expect(scanOutcome(clean, null, checkAttributes)).toEqual(objectsOutcome(clean, null));
    let refused = 0;
    for (let t = 0; t < 4000; t++) {
      const b = Uint8Array.from(clean);
      for (let k = 1 + Math.floor(rand() * 2); k > 0; k--) {
        const at = Math.floor(rand() * b.length);
        const r = rand();
        // a byte of JSON, a UTF-8 lead, a length's high byte, or anything
        b[at] = r < 0.3 ? [0x22, 0x7b, 0x7d, 0x5c, 0x2c, 0x3a][Math.floor(rand() * 6)]! : r < 0.4 ? 0xc3 : r < 0.5 ? 0xff : Math.floor(rand() * 256);
      }
      const expected = objectsOutcome(b, null);
      if ((expected as { error?: string }).error !== undefined) refused++;
      expect(scanOutcome(b, null), `damage at trial ${t}`).toEqual(expected);
      expect(scanOutcome(b, null, checkAttributes), `damage at trial ${t}, attributes against a template`).toEqual(expected);
      // the column decoder refuses what the record decoder refuses for a record (it leaves positions' order to its caller)
      const error = (expected as { error?: string }).error;
      if (error !== undefined && !error.includes('does not follow')) {
        const got = columnsOutcome(b) as { error?: string };
        expect(got.error === error || /outside the stream's range/.test(got.error ?? ''), `columns, trial ${t}: ${got.error} vs ${error}`).toBe(true);
      }
    }
    expect(refused).toBeGreaterThan(1000);
  });
});
