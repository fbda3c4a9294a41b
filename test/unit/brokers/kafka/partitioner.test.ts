/**
 * restore --repartition puts a keyed record where Kafka's default partitioner would
 * (src/brokers/kafka/partitioner.ts): checked against kafkajs' own DefaultPartitioner (murmur2 and
 * toPositive, the Java client's algorithm) for many keys of every length class and many counts.
 */
import { describe, expect, it } from 'vitest';
import { Partitioners } from 'kafkajs';
import { keyPartition, murmur2, targetPartition } from '../../../../src/brokers/kafka/partitioner.js';
import { pseudoRandomBytes } from '../../../helpers/random.js';

/** What kafkajs' DefaultPartitioner chooses for `key` among `count` partitions. */
function kafkajsChoice(key: Buffer, count: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  const partitionMetadata = Array.from({ length: count }, (_, i) => ({ partitionId: i, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 }));
  return partitioner({ topic: 't', partitionMetadata, message: { key, value: null } });
}

function keys(): Buffer[] {
  const out: Buffer[] = [Buffer.alloc(0), Buffer.from('a'), Buffer.from('ab'), Buffer.from('abc'), Buffer.from('abcd'), Buffer.from('abcde')];
  // UTF-8 keys of several scripts, and the strings Kafka users key by
  for (const s of ['ключ', '鍵', 'clé-🔑', 'ü', 'order-42', 'user:1234567890', '\u0000', 'ümlaut ünd émoji 😀😀']) out.push(Buffer.from(s, 'utf8'));
  // every single byte (the signed/unsigned edge at 0x80) and binary keys of lengths 0..40
  for (let b = 0; b < 256; b++) out.push(Buffer.from([b]));
  for (let n = 0; n < 2000; n++) out.push(Buffer.from(pseudoRandomBytes(n % 41, n + 1)));
  out.push(Buffer.alloc(16, 0xff), Buffer.alloc(17, 0x80), Buffer.alloc(1000, 0x7f));
  return out;
}

describe("kafka repartition: Kafka's default partitioner", () => {
  it('chooses the partition kafkajs chooses, for empty, UTF-8 and binary keys and counts 1 to 13, 64, 1000', () => {
    let checked = 0;
    const counts = [...Array.from({ length: 13 }, (_, i) => i + 1), 64, 1000];
    for (const key of keys()) {
      for (const count of counts) {
        expect(keyPartition(key, 0, key.length, count), `key ${key.toString('hex')} over ${count}`).toBe(kafkajsChoice(key, count));
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30_000);
  });

  it('hashes the key where it lies in a larger buffer (the archive block)', () => {
    const key = Buffer.from('order-42', 'utf8');
    const block = Buffer.concat([Buffer.from([9, 9, 9]), key, Buffer.from([7, 7])]);
    expect(murmur2(block, 3, key.length)).toBe(murmur2(key));
    expect(keyPartition(block, 3, key.length, 5)).toBe(kafkajsChoice(key, 5));
  });

  it('knows murmur2 values of Kafka: the hash of an empty key and of "21"', () => {
    // Kafka's own test values (UtilsTest.testMurmur2 uses these); toPositive applied by the caller
    expect(murmur2(Buffer.alloc(0))).toBe(275646681);
    expect(murmur2(Buffer.from('21'))).toBe(-973932308);
  });

  it('a record without a key stays in its source partition modulo the count; an empty key is hashed', () => {
    const bytes = Buffer.from('xyz');
    expect(targetPartition(bytes, 0, -1, 7, 5)).toBe(2);
    expect(targetPartition(bytes, 0, -1, 1, 5)).toBe(1);
    expect(targetPartition(bytes, 0, 0, 7, 5)).toBe(kafkajsChoice(Buffer.alloc(0), 5));
  });
});
