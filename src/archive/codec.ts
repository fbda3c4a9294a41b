/**
 * Block compression behind a small async interface, so that it can move to worker threads
 * without touching the segment code. The only codec of format v1 is zstd.
 */
import { MqbakError } from '../common/errors.js';

export interface BlockCodec {
  /** One complete zstd frame holding `raw` (1 byte up to MAX_BLOCK_SIZE). */
  compress(raw: Uint8Array, level: number): Promise<Uint8Array>;
  /** The raw bytes of one frame; `rawLength` is the length the block header states. */
  decompress(frame: Uint8Array, rawLength: number): Promise<Uint8Array>;
  /**
   * Optional: compress and take both CRC-32s (of `raw` and of the frame) in one call, where the
   * codec runs (a worker thread). With `transfer`, the codec may move raw's whole ArrayBuffer to
   * that thread instead of copying it: the caller's views of it are then empty, and `returned`
   * is a view of the same memory handed back for reuse (null when it was copied).
   */
  compressBlock?(raw: Uint8Array, level: number, options: { transfer: boolean }): Promise<CompressedBlock>;
}

export interface CompressedBlock {
  frame: Uint8Array;
  rawCrc: number;
  frameCrc: number;
  returned: Uint8Array | null;
}

/** zstd-codec has a fixed 16 MiB heap (FINDINGS): no call may exceed this much raw data. */
export const MAX_BLOCK_SIZE = 4 * 1024 * 1024;
export const DEFAULT_BLOCK_SIZE = 1024 * 1024;
export const DEFAULT_LEVEL = 1;
export const MAX_LEVEL = 9;

/**
 * Measured with zstd-codec 0.1.5 on incompressible input: levels 1-5 work on 4 MiB blocks,
 * levels 6-9 only up to 2 MiB, level 10 and above run out of its heap even on 1 MiB.
 */
export function maxBlockSizeForLevel(level: number): number {
  return level <= 5 ? MAX_BLOCK_SIZE : 2 * 1024 * 1024;
}

export function checkLevelAndBlockSize(level: number, blockSize: number): void {
  if (!Number.isInteger(level) || level < 1 || level > MAX_LEVEL) {
    throw new MqbakError('usage', `compression level ${level}: expected 1 to ${MAX_LEVEL}`, {
      hint: 'the zstd implementation mqbak uses runs out of memory above level 9',
    });
  }
  if (!Number.isInteger(blockSize) || blockSize < 1024 || blockSize > maxBlockSizeForLevel(level)) {
    throw new MqbakError('usage', `block size ${blockSize}: expected 1 KiB to ${maxBlockSizeForLevel(level)} bytes at level ${level}`);
  }
}

interface ZstdSimpleLike {
  compress(data: Uint8Array, level?: number): Uint8Array | null;
  decompress(data: Uint8Array): Uint8Array | null;
}

let simple: Promise<ZstdSimpleLike> | undefined;

function loadSimple(): Promise<ZstdSimpleLike> {
  simple ??= (async () => {
    const mod = (await import('zstd-codec')) as unknown as { ZstdCodec?: unknown; default?: { ZstdCodec: unknown } };
    const ZstdCodec = (mod.ZstdCodec ?? mod.default?.ZstdCodec) as { run(cb: (z: { Simple: new () => ZstdSimpleLike }) => void): void };
    return new Promise<ZstdSimpleLike>((resolve) => ZstdCodec.run((z) => resolve(new z.Simple())));
  })();
  return simple;
}

/** zstd in this thread (zstd-codec, WebAssembly). */
export const zstdCodec: BlockCodec = {
  async compress(raw, level) {
    if (raw.length === 0 || raw.length > MAX_BLOCK_SIZE) throw new MqbakError('internal', `zstd: block of ${raw.length} bytes`);
    const z = await loadSimple();
    let out: Uint8Array | null;
    try {
      out = z.compress(raw, level);
    } catch (e) {
      // zstd-codec throws a string ("abort(OOM)") and is unusable afterwards: load a fresh one next time
      simple = undefined;
      throw new MqbakError('internal', `zstd: compressing ${raw.length} bytes at level ${level} failed: ${String(e)}`);
    }
    if (!out) throw new MqbakError('internal', `zstd: compressing ${raw.length} bytes failed`);
    return out;
  },
  async decompress(frame, rawLength) {
    const z = await loadSimple();
    let out: Uint8Array | null;
    try {
      out = z.decompress(frame);
    } catch (e) {
      simple = undefined;
      throw new MqbakError('integrity', `zstd: ${String(e)}`);
    }
    // Simple.decompress reads the content size from the frame header and answers null when the
    // frame does not decode to exactly that; the header's raw length is checked by the caller
    if (!out) throw new MqbakError('integrity', 'zstd frame does not decompress');
    if (out.length !== rawLength) throw new MqbakError('integrity', `zstd frame decompressed to ${out.length} bytes, block header says ${rawLength}`);
    return out;
  },
};
