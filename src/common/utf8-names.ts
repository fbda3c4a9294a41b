import { isUtf8 } from 'node:buffer';

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

/** Checks that bytes [start, start + n) of b, the name of header i of a record, are UTF-8. */
export type NameCheck = (b: Uint8Array, start: number, n: number, i: number) => boolean;

/**
 * A check that bytes [start, start + n) of b are UTF-8, for the name of header i of a record:
 * header names repeat at the same place from record to record, so a name equal to the one last
 * checked at that place is not checked again. Each reader takes a checker of its own.
 */
export function utf8NameChecker(): NameCheck {
  const seenNames: Array<Uint8Array | undefined> = [];
  return (b, start, n, i) => {
    const seen = i < 64 ? seenNames[i] : undefined;
    if (seen !== undefined && seen.length === n) {
      let same = true;
      for (let k = 0; k < n; k++) {
        if (seen[k] !== b[start + k]) {
          same = false;
          break;
        }
      }
      if (same) return true;
    }
    const name = b.subarray(start, start + n);
    if (!isUtf8(name)) return false;
    if (i < 64) seenNames[i] = Uint8Array.from(name);
    return true;
  };
}
