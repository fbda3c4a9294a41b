/**
 * Memory the segment builder reuses instead of allocating: block buffers (records are encoded
 * into them, then compressed) and the chunks a finished segment is collected in.
 */

// Block buffers are reused: a fresh 1 MiB buffer per block costs more than encoding the records
// into it (page faults and zeroing; measured 0.3-0.6 s per 180 MB on this kind of machine).
const freeBlocks = new Map<number, Uint8Array[]>();
const MAX_FREE_BLOCKS = 16;

/** A block buffer of `size` bytes, reused when one is free. */
export function takeBlock(size: number): Uint8Array {
  return freeBlocks.get(size)?.pop() ?? Buffer.allocUnsafeSlow(size);
}

/** Hands a block buffer back once nothing reads it any more. */
export function giveBlock(b: Uint8Array): void {
  let list = freeBlocks.get(b.length);
  if (!list) freeBlocks.set(b.length, (list = []));
  if (list.length < MAX_FREE_BLOCKS) list.push(b);
}

/**
 * A finished segment's bytes, as the parts they were collected in (chunks of SEGMENT_CHUNK_SIZE
 * bytes, the last one shorter). `release()` hands the chunks back for the next segment: after it,
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
        cur = freeChunks.pop() ?? Buffer.allocUnsafeSlow(SEGMENT_CHUNK_SIZE);
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
        for (const c of chunks) if (freeChunks.length < MAX_FREE_CHUNKS) freeChunks.push(c);
      },
    };
  }
}
