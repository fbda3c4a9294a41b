import { describe, expect, it } from 'vitest';
import { decodeMetadataV10, encodeMetadataV10 } from '../../../../src/brokers/kafka/topic-ids.js';

/** Compact (flexible) encodings, as Kafka's message definitions lay them out. */
const uvarint = (n: number) => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
};
const cstr = (s: string | null) => (s === null ? uvarint(0) : Buffer.concat([uvarint(Buffer.byteLength(s) + 1), Buffer.from(s)]));
const i16 = (v: number) => Buffer.from([(v >> 8) & 255, v & 255]);
const i32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};
const TAGS = uvarint(0);

function topic(name: string, id: string, error = 0, partitions = 2): Buffer {
  const parts: Buffer[] = [i16(error), cstr(name), Buffer.from(id, 'hex'), Buffer.from([0]), uvarint(partitions + 1)];
  for (let p = 0; p < partitions; p++) {
    parts.push(i16(0), i32(p), i32(1), i32(0), uvarint(2), i32(1), uvarint(2), i32(1), uvarint(1), TAGS);
  }
  parts.push(i32(-2147483648), TAGS);
  return Buffer.concat(parts);
}

describe('topic ids (Metadata v10)', () => {
  it('encodes the request body after the header tags: topics by name, no id, nothing else asked', () => {
    expect(encodeMetadataV10(['ab']).toString('hex')).toBe(['00', '02', '00'.repeat(16), '03', Buffer.from('ab').toString('hex'), '00', '00000000'].join(''));
  });

  it("reads each topic's id from an answer, leaving out topics with an error or a zero id", () => {
    const a = 'aa'.repeat(16);
    const b = '0b'.repeat(16);
    const answer = Buffer.concat([
      TAGS, // response header tags
      i32(0), // throttle
      uvarint(2), i32(1), cstr('localhost'), i32(9092), cstr(null), TAGS, // one broker
      cstr('cluster-x'),
      i32(1),
      uvarint(5),
      topic('orders', a),
      topic('payments', b, 0, 0),
      topic('gone', '00'.repeat(16)),
      topic('broken', 'cc'.repeat(16), 3),
      i32(0), // cluster authorized operations
      TAGS,
    ]);
    expect(decodeMetadataV10(answer)).toEqual(new Map([['orders', a], ['payments', b]]));
    expect(() => decodeMetadataV10(answer.subarray(0, 40))).toThrow(/cut off/);
  });
});
