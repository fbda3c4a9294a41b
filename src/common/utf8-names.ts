/**
 * UTF-8 bytes of names that repeat from record to record (header names, topic names): encoded
 * once and kept, instead of once per record. Bounded, in case every name is new.
 */
const cache = new Map<string, Buffer>();
const MAX = 1024;

export function utf8Name(name: string): Buffer {
  let b = cache.get(name);
  if (b === undefined) {
    b = Buffer.from(name, 'utf8');
    if (cache.size >= MAX) cache.clear();
    cache.set(name, b);
  }
  return b;
}
