/**
 * Memory the segment builder reuses instead of allocating: block buffers (records are encoded
 * into them, then compressed) and the chunks a finished segment is collected in.
 */

// Block buffers are reused: a fresh 1 MiB buffer per block costs more than encoding the records
// into it (page faults and zeroing; measured 0.3-0.6 s per 180 MB on this kind of machine).
// A segment's first chunks (ChunkedBytes) come from the same free lists: their sizes are powers
// of two, so that a few sizes share them. Dropped buffers stay resident until the garbage
// collector runs: with thousands of streams that was hundreds of MB (docs/PERFORMANCE.md).
const freeBlocks = new Map<number, Uint8Array[]>();
/** Bytes of free block buffers kept, all sizes together. */
export const MAX_FREE_BLOCK_BYTES = 16 * 1024 * 1024;
let freeBytes = 0;

/** The buffer size that holds `need` bytes: the next power of two, at most `max` (the block size). */
export function blockCapacity(need: number, max: number): number {
  if (need >= max) return Math.max(need, max);
  let c = 4096;
  while (c < need) c *= 2;
  return Math.min(c, max);
}

/** A buffer of at least `need` bytes (see blockCapacity), reused when one is free. */
export function takeBlock(need: number, max = need): Uint8Array {
  const size = blockCapacity(need, max);
  const b = freeBlocks.get(size)?.pop();
  if (b) {
    freeBytes -= size;
    return b;
  }
  return Buffer.allocUnsafeSlow(size);
}

/** Hands a block buffer back once nothing reads it any more. */
export function giveBlock(b: Uint8Array): void {
  if (freeBytes + b.length > MAX_FREE_BLOCK_BYTES) return;
  let list = freeBlocks.get(b.length);
  if (!list) freeBlocks.set(b.length, (list = []));
  list.push(b);
  freeBytes += b.length;
}

/** Bytes of the free block buffers (for tests). */
export function freeBlockBytes(): number {
  return freeBytes;
}

/**
 * A finished segment's bytes, as the parts they were collected in (chunks of 16 KiB, 32 KiB, ...
 * up to SEGMENT_CHUNK_SIZE bytes, the last one shorter). `release()` hands the chunks back for the next segment: after it,
 * the parts must not be read.
 */
export interface SegmentBytes {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
  release(): void;
}

/** Segments are collected in chunks of this size, reused from one segment to the next. */
export const SEGMENT_CHUNK_SIZE = 1024 * 1024;
// enough for the segments a backup builds and stores at once (a few MiB each, compressed); more
// than this stay with the garbage collector
const MAX_FREE_CHUNKS = 48;
const freeChunks: Uint8Array[] = [];
/** A segment's first chunk; each next one is twice as large, up to SEGMENT_CHUNK_SIZE. */
export const FIRST_CHUNK_SIZE = 16 * 1024;

/** Bytes appended into reused chunks of SEGMENT_CHUNK_SIZE. */
export class ChunkedBytes {
  private readonly chunks: Uint8Array[] = [];
  private used = 0;
  length = 0;

  append(b: Uint8Array): void {
    let o = 0;
    while (o < b.length) {
      let cur = this.chunks[this.chunks.length - 1];
      if (!cur || this.used === cur.length) {
        // a segment's first chunks are small (a small stream's segment stays small), then whole
        // (a power of two by multiplication: a shift of 17 or more overflows 32 bits)
        const small = FIRST_CHUNK_SIZE * 2 ** Math.min(this.chunks.length, 10);
        cur = small < SEGMENT_CHUNK_SIZE ? takeBlock(small) : (freeChunks.pop() ?? Buffer.allocUnsafeSlow(SEGMENT_CHUNK_SIZE));
        this.chunks.push(cur);
        this.used = 0;
      }
      const n = Math.min(b.length - o, cur.length - this.used);
      cur.set(n === b.length ? b : b.subarray(o, o + n), this.used);
      this.used += n;
      o += n;
    }
    this.length += b.length;
  }

  /** The bytes, and the chunks' return. */
  take(): SegmentBytes {
    const chunks = this.chunks.splice(0);
    const parts = chunks.map((c, i) => (i === chunks.length - 1 ? c.subarray(0, this.used) : c));
    let released = false;
    return {
      parts,
      length: this.length,
      release: () => {
        if (released) return;
        released = true;
        for (const c of chunks) {
          // the small ones share the block buffers' free lists (same sizes: powers of two)
          if (c.length < SEGMENT_CHUNK_SIZE) giveBlock(c);
          else if (freeChunks.length < MAX_FREE_CHUNKS) freeChunks.push(c);
        }
      },
    };
  }
}
