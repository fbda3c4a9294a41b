/**
 * mqbak's own Kafka record batch encoding (src/brokers/kafka/batch-producer.ts), checked against
 * kafkajs' decoder and kafkajs' CRC-32C as independent readers.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeProduceBody, encodeRecordBatch, encodeSlicesBatch } from '../../../../src/brokers/kafka/batch-producer.js';
import { crc32c } from '../../../../src/brokers/kafka/crc32c.js';
import { Crc32cWorker } from '../../../../src/brokers/kafka/crc32c-worker.js';
import { columnsOf, type ArchiveRecord } from '../../../../src/common/record.js';

const require = createRequire(import.meta.url);
const Decoder = require('kafkajs/src/protocol/decoder') as new (b: Buffer) => { readInt16(): number; readInt32(): number; readString(): string; readBytes(): Buffer };
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (d: unknown) => Promise<{
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  lastOffsetDelta: number;
  records: Array<{ offset: string; timestamp: string; key: Buffer | null; value: Buffer | null; headers: Record<string, Buffer | Buffer[] | null> }>;
}>;
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C') as (b: Buffer) => number;

const te = new TextEncoder();

describe('CRC-32C', () => {
  it('gives the check value and the same result as kafkajs at every length and offset', () => {
    expect(crc32c(te.encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    const data = randomBytes(5000);
    for (const [start, end] of [[0, 5000], [1, 4999], [3, 11], [7, 8], [0, 1], [13, 4096]] as const) {
      expect(crc32c(data, start, end)).toBe(kafkajsCrc32c(data.subarray(start, end)) >>> 0);
    }
  });

  it('is the same over views that start anywhere in their memory (the bulk is read four bytes at a time)', () => {
    const data = randomBytes(1200);
    for (let offset = 0; offset < 8; offset++) {
      const view = new Uint8Array(data.buffer, data.byteOffset + offset, 1000);
      for (const [start, end] of [[0, 1000], [1, 999], [2, 66], [3, 67], [5, 68], [0, 63], [0, 64], [4, 71], [9, 520]] as const) {
        expect(crc32c(view, start, end), `offset ${offset}, ${start}..${end}`).toBe(kafkajsCrc32c(Buffer.from(view.subarray(start, end))) >>> 0);
      }
    }
  });
});

describe('CRC-32C in a worker thread', () => {
  it('writes the checksum of the range into the buffer, which moves there and back', async () => {
    const w = new Crc32cWorker();
    try {
      for (const size of [100_000, 1_000_003]) {
        const buf = Buffer.allocUnsafeSlow(size);
        randomBytes(size).copy(buf);
        buf.writeUInt32BE(0, 17);
        const want = kafkajsCrc32c(buf.subarray(21, size - 5)) >>> 0;
        const back = await w.fill(buf, 17, 21, size - 5);
        expect(buf.length).toBe(0); // moved, not copied
        expect(back.length).toBe(size);
        expect(back.readUInt32BE(17)).toBe(want);
      }
    } finally {
      await w.close();
    }
  });
});

describe('record batch encoding', () => {
  const t0 = 1_700_000_000_000;
  const records: ArchiveRecord[] = [
    { position: 10n, timestamp: t0, timestampType: null, key: te.encode('k0'), value: te.encode('v0'), headers: [], attributes: null },
    // null key, empty value, timestamp before the first (negative delta), repeated and null headers
    {
      position: 11n,
      timestamp: t0 - 5000,
      timestampType: null,
      key: null,
      value: new Uint8Array(0),
      headers: [
        { name: 'a', value: te.encode('1') },
        { name: 'a', value: te.encode('2') },
        { name: 'ü-name', value: null },
      ],
      attributes: null,
    },
    // tombstone, a value longer than one varint byte of length, timestamp far later
    { position: 12n, timestamp: t0 + 2 ** 40, timestampType: null, key: te.encode('k2'), value: null, headers: [{ name: 'e', value: new Uint8Array(0) }], attributes: null },
    { position: 13n, timestamp: t0 + 1, timestampType: null, key: randomBytes(300), value: randomBytes(70_000), headers: [], attributes: null },
  ];

  it('kafkajs decodes what it encodes: offsets, timestamps, keys, values, headers, producer fields, CRC', async () => {
    const id = { producerId: 4242n, producerEpoch: 3, baseSequence: 77 };
    const buf = encodeRecordBatch(records, id);
    const batch = await decodeBatch(new Decoder(buf));
    expect(batch.firstOffset).toBe('0');
    expect(batch.lastOffsetDelta).toBe(3);
    expect(batch.producerId).toBe('4242');
    expect(batch.producerEpoch).toBe(3);
    expect(batch.firstSequence).toBe(77);
    expect(batch.firstTimestamp).toBe(String(t0));
    expect(batch.maxTimestamp).toBe(String(t0 + 2 ** 40));
    expect(batch.records.map((r) => r.offset)).toEqual(['0', '1', '2', '3']);
    expect(batch.records.map((r) => r.timestamp)).toEqual(records.map((r) => String(r.timestamp)));
    for (const [i, r] of batch.records.entries()) {
      const want = records[i]!;
      expect(r.key === null ? null : Buffer.from(r.key).toString('hex')).toBe(want.key === null ? null : Buffer.from(want.key).toString('hex'));
      expect(r.value === null ? null : Buffer.from(r.value).toString('hex')).toBe(want.value === null ? null : Buffer.from(want.value).toString('hex'));
    }
    expect(batch.records[1]!.headers).toEqual({ a: [Buffer.from('1'), Buffer.from('2')], 'ü-name': null });
    expect(batch.records[2]!.headers).toEqual({ e: Buffer.alloc(0) });
    // the CRC covers attributes to the end (Kafka's DefaultRecordBatch)
    expect(buf.readUInt32BE(17)).toBe(kafkajsCrc32c(buf.subarray(21)) >>> 0);
    expect(buf.readInt32BE(8)).toBe(buf.length - 12);
    expect(buf[16]).toBe(2);
  });

  it('records given as slices of several column sets encode as the same records in one list', () => {
    const id = { producerId: 7n, producerEpoch: 0, baseSequence: 0 };
    const a = columnsOf(records.slice(0, 3));
    const b = columnsOf([records[0]!, ...records.slice(3)]);
    // records 0..1 of a, 2 of a, then 3 (record 1 of b: record 0 of b is left out)
    const slices = [
      { cols: a, from: 0, to: 2 },
      { cols: a, from: 2, to: 3 },
      { cols: b, from: 1, to: 2 },
    ];
    expect(encodeSlicesBatch(slices, id).equals(encodeRecordBatch(records, id))).toBe(true);
    expect(encodeSlicesBatch([{ cols: b, from: 1, to: 2 }], id).equals(encodeRecordBatch([records[3]!], id))).toBe(true);
  });

  it('a record without a timestamp (message format v0) gets -1, "no timestamp", never the time of the restore', async () => {
    const id = { producerId: 1n, producerEpoch: 0, baseSequence: 0 };
    const alone = await decodeBatch(new Decoder(encodeRecordBatch([{ ...records[0]!, timestamp: null }], id)));
    expect(alone.records[0]!.timestamp).toBe('-1');
    expect([alone.firstTimestamp, alone.maxTimestamp]).toEqual(['-1', '-1']);
    // first, between and after records with timestamps: each keeps its own
    const mixed = [{ ...records[0]!, timestamp: null }, records[1]!, { ...records[2]!, timestamp: null }, records[3]!];
    const batch = await decodeBatch(new Decoder(encodeRecordBatch(mixed, id)));
    expect(batch.records.map((r) => r.timestamp)).toEqual(['-1', String(t0 - 5000), '-1', String(t0 + 1)]);
    expect(batch.firstTimestamp).toBe('-1');
    expect(batch.maxTimestamp).toBe(String(t0 + 1));
  });

  it('the Produce body frames one topic, one partition and the batch', async () => {
    const id = { producerId: 9n, producerEpoch: 1, baseSequence: 5 };
    const body = encodeProduceBody('orders', 2, records, id, -1, 30_000);
    const d = new Decoder(body);
    expect(d.readInt16()).toBe(-1); // transactional id: null
    expect(d.readInt16()).toBe(-1); // acks
    expect(d.readInt32()).toBe(30_000);
    expect(d.readInt32()).toBe(1);
    expect(d.readString()).toBe('orders');
    expect(d.readInt32()).toBe(1);
    expect(d.readInt32()).toBe(2);
    const batch = d.readBytes();
    expect(batch.equals(encodeRecordBatch(records, id))).toBe(true);
  });
});
