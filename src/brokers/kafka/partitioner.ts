/**
 * The partition Kafka's default partitioner gives a keyed record, for `restore --repartition`:
 * murmur2 (the 32-bit MurmurHash2 variant of Kafka's Java client, seed 0x9747b28c) of the key's
 * bytes, made positive by clearing the sign bit, modulo the partition count. A record without a
 * key (null, not empty: an empty key is hashed like any other) has no such partition: the
 * restore keeps it in its source partition modulo the count (docs/KAFKA.md, "Restoring into
 * another partition count").
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 of bytes[start, start + length), as a signed 32-bit integer. */
export function murmur2(bytes: Uint8Array, start = 0, length = bytes.length - start): number {
  let h = (SEED ^ length) | 0;
  const whole = length & ~3;
  let i = start;
  for (const end = start + whole; i < end; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  // the last one to three bytes
  const rest = length & 3;
  if (rest === 3) h ^= bytes[i + 2]! << 16;
  if (rest >= 2) h ^= bytes[i + 1]! << 8;
  if (rest >= 1) {
    h ^= bytes[i]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of `count` that Kafka's default partitioner gives the key bytes[start, start + length). */
export function keyPartition(bytes: Uint8Array, start: number, length: number, count: number): number {
  return (murmur2(bytes, start, length) & 0x7fffffff) % count;
}

/** Where a repartitioned restore puts a record: by its key, or (no key) its source partition modulo the count. */
export function targetPartition(bytes: Uint8Array, keyStart: number, keyLength: number, sourcePartition: number, count: number): number {
  return keyLength < 0 ? sourcePartition % count : keyPartition(bytes, keyStart, keyLength, count);
}
