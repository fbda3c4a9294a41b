/**
 * Block compression behind a small async interface, so that it can move to worker threads
 * without touching the segment code. The only codec of format v1 is zstd.
 *
 * Two implementations make the same frames (one-shot, content size, no checksum) and read each
 * other's: zstd-codec (WebAssembly, always installed) and, where it is installed and loads, the
 * native binding zstd-napi (an optional dependency, built from source by npm), about twice as
 * fast (docs/PERFORMANCE.md). The CLI may pin one (MQBAK_ZSTD=wasm|native).
 */
import { createRequire } from 'node:module';
import { MqbakError, messageOf } from '../common/errors.js';
import type { BlockSealJob } from './segment-sealing.js';

export type ZstdImplementation = 'auto' | 'native' | 'wasm';

interface NativeZstd {
  compress(data: Uint8Array, parameters?: { compressionLevel?: number }): Buffer;
  decompress(data: Uint8Array): Buffer;
}

let preference: ZstdImplementation = 'auto';
let native: { path: string; zstd: NativeZstd } | null | undefined;

/** Which implementation to use from now on ('auto': native where it loads). */
export function setZstdImplementation(p: ZstdImplementation): void {
  preference = p;
  native = undefined;
}

function loadNative(): { path: string; zstd: NativeZstd } | null {
  if (native !== undefined) return native;
  native = null;
  if (preference === 'wasm') return null;
  const require = createRequire(import.meta.url);
  try {
    const path = require.resolve('zstd-napi');
    native = { path, zstd: require(path) as NativeZstd };
  } catch (e) {
    if (preference === 'native') {
      throw new MqbakError('usage', `MQBAK_ZSTD=native: the native zstd binding (zstd-napi) does not load: ${messageOf(e).split('\n')[0]}`, {
        hint: 'npm install zstd-napi (it builds with node-gyp), or unset MQBAK_ZSTD to use zstd-codec',
      });
    }
  }
  return native;
}

/** The module path of the native binding in use, or null when zstd-codec is used. */
export function nativeZstdPath(): string | null {
  return loadNative()?.path ?? null;
}

/** 'native' (zstd-napi) or 'wasm' (zstd-codec): what compresses and decompresses in this process. */
export function zstdImplementation(): 'native' | 'wasm' {
  return loadNative() ? 'native' : 'wasm';
}

export interface BlockCodec {
  /** One complete zstd frame holding `raw` (1 byte up to MAX_BLOCK_SIZE). */
  compress(raw: Uint8Array, level: number): Promise<Uint8Array>;
  /** The raw bytes of one frame; `rawLength` is the length the block header states. */
  decompress(frame: Uint8Array, rawLength: number): Promise<Uint8Array>;
  /**
   * Optional: decompress, with the CRC-32 of the raw bytes returned, taken where the codec runs (a
   * worker thread; see workerScanCodec in zstd-pool.ts). The reader compares it with the header's.
   */
  decompressBlock?(frame: Uint8Array, rawLength: number): Promise<{ raw: Uint8Array; rawCrc: number }>;
  /**
   * Optional: hands back the memory of a block decompress returned, once nothing reads any view
   * of it any more (a reader that copied the block elsewhere; see pooledZstdCodec).
   */
  release?(raw: Uint8Array): void;
  /**
   * Optional: compress and take both CRC-32s (of `raw` and of the frame) in one call, where the
   * codec runs (a worker thread). With `transfer`, the codec may move raw's whole ArrayBuffer to
   * that thread instead of copying it: the caller's views of it are then empty, and `returned`
   * is a view of the same memory handed back for reuse (null when it was copied).
   */
  compressBlock?(raw: Uint8Array, level: number, options: { transfer: boolean; seal?: BlockSealJob }): Promise<CompressedBlock>;
  /**
   * Whether compressBlock takes `seal` (an encrypted store's block, segment-sealing.ts): it then
   * seals the frame where it compressed it, and returns the sealed bytes as `frame` and the
   * clear header frame as `prefix` (`frameCrc` is 0: a sealed block has none).
   */
  readonly sealsBlocks?: boolean;
}

export interface CompressedBlock {
  frame: Uint8Array;
  rawCrc: number;
  frameCrc: number;
  returned: Uint8Array | null;
  /** With `seal`: the block's clear header frame, to store before `frame` */
  prefix?: Uint8Array;
  /** Where present, the caller calls it once done with `frame`, whose memory is then reused. */
  release?: () => void;
}

/** ZSTD_COMPRESSBOUND: the most bytes a one-shot frame of `n` raw bytes can take. */
export function zstdBound(n: number): number {
  return n + (n >>> 8) + (n < 128 * 1024 ? (128 * 1024 - n) >>> 11 : 0);
}

/** zstd-codec has a fixed 16 MiB heap (docs/FORMAT.md, 4.3): no call may exceed this much raw data. */
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

interface ZstdStreamingLike {
  decompress(data: Uint8Array): Uint8Array | null;
}

/** zstd-codec, loaded and started: its one-shot (Simple) and streaming classes. */
async function runZstdCodec(): Promise<{ Simple: new () => ZstdSimpleLike; Streaming: new () => ZstdStreamingLike }> {
  const mod = (await import('zstd-codec')) as unknown as { ZstdCodec?: unknown; default?: { ZstdCodec: unknown } };
  const ZstdCodec = (mod.ZstdCodec ?? mod.default?.ZstdCodec) as { run(cb: (z: { Simple: new () => ZstdSimpleLike; Streaming: new () => ZstdStreamingLike }) => void): void };
  return new Promise((resolve) => ZstdCodec.run(resolve));
}

function loadSimple(): Promise<ZstdSimpleLike> {
  simple ??= runZstdCodec().then((z) => new z.Simple());
  return simple;
}

/** zstd-codec (WebAssembly) in this thread, whatever else is installed: the reference for golden fixtures. */
export const wasmZstdCodec: BlockCodec = {
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

/** zstd in this thread: the native binding where it loads (and MQBAK_ZSTD allows), else zstd-codec. */
export const zstdCodec: BlockCodec = {
  async compress(raw, level) {
    const n = loadNative();
    if (!n) return wasmZstdCodec.compress(raw, level);
    if (raw.length === 0 || raw.length > MAX_BLOCK_SIZE) throw new MqbakError('internal', `zstd: block of ${raw.length} bytes`);
    return n.zstd.compress(raw, { compressionLevel: level });
  },
  async decompress(frame, rawLength) {
    const n = loadNative();
    if (!n) return wasmZstdCodec.decompress(frame, rawLength);
    let out: Buffer;
    try {
      out = n.zstd.decompress(frame);
    } catch (e) {
      throw new MqbakError('integrity', `zstd: ${messageOf(e)}`);
    }
    if (out.length !== rawLength) throw new MqbakError('integrity', `zstd frame decompressed to ${out.length} bytes, block header says ${rawLength}`);
    // a plain view, as zstd-codec gives: records read from it are Uint8Arrays either way
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
};

/**
 * A decompressor for any zstd data, also frames without a content size (as Kafka producers write
 * them), that refuses output of more than `maxLength` bytes; synchronous once loaded. Not for archive blocks:
 * those go through zstdCodec, with their lengths and CRCs checked.
 */
export async function loadZstdDecompressor(maxLength = 256 * 1024 * 1024): Promise<(data: Uint8Array) => Uint8Array> {
  const n = loadNative();
  const bounded = (out: Uint8Array | null): Uint8Array => {
    if (out === null) throw new Error('zstd data does not decompress');
    if (out.length > maxLength) throw new Error(`zstd data decompresses to more than ${maxLength} bytes`);
    return out;
  };
  if (n) return (data) => bounded(n.zstd.decompress(data));
  const streaming = new (await runZstdCodec()).Streaming();
  return (data) => {
    try {
      return bounded(streaming.decompress(data));
    } catch (e) {
      throw new Error(`zstd: ${messageOf(e)}`);
    }
  };
}

interface NativeDCtx {
  decompress(dst: Uint8Array, src: Uint8Array): number;
}

/**
 * With the native binding: a function that decompresses a frame into `out` and says whether it
 * filled exactly `out` (false for anything else: the caller then asks zstdCodec, for its error).
 */
function nativeInto(path: string): (out: Uint8Array, frame: Uint8Array) => boolean {
  const dctx = new (createRequire(path)('../binding.js') as { DCtx: new () => NativeDCtx }).DCtx();
  return (out, frame) => {
    try {
      return dctx.decompress(out, frame) === out.length;
    } catch {
      return false;
    }
  };
}

/**
 * The decompress of the codecs below: with the native binding, a block of at most MAX_BLOCK_SIZE
 * into `memory(rawLength)` (exactly rawLength bytes); `unused` gets that memory back when the
 * frame does not fill it exactly. Else, and then, zstdCodec's: same bytes, same errors.
 */
function decompressInto(frame: Uint8Array, rawLength: number, memory: (rawLength: number) => Uint8Array, unused: (out: Uint8Array) => void = () => {}): Promise<Uint8Array> {
  const n = loadNative();
  if (!n || rawLength > MAX_BLOCK_SIZE) return zstdCodec.decompress(frame, rawLength);
  const out = memory(rawLength);
  if (nativeIntoOf(n.path)(out, frame)) return Promise.resolve(out);
  unused(out);
  return zstdCodec.decompress(frame, rawLength);
}

let nativeIntoCache: { path: string; into: (out: Uint8Array, frame: Uint8Array) => boolean } | undefined;

function nativeIntoOf(path: string): (out: Uint8Array, frame: Uint8Array) => boolean {
  if (nativeIntoCache?.path !== path) nativeIntoCache = { path, into: nativeInto(path) };
  return nativeIntoCache.into;
}

/**
 * zstdCodec for a reader that keeps nothing of a block once it has gone on to the next (verify's
 * record scan): with the native binding, blocks decompress into `depth` buffers used in turn
 * instead of a new buffer each, which spares allocating and faulting in fresh memory and leaves
 * the bytes in the CPU cache for the checksum and the record checks that follow. A block's bytes
 * are overwritten `depth` blocks later. Whatever this path does not decompress to exactly
 * `rawLength` bytes, blocks larger than MAX_BLOCK_SIZE, and zstd-codec go through
 * zstdCodec.decompress: same bytes, same errors.
 */
export function recyclingZstdCodec(depth = 3): BlockCodec {
  const buffers: Uint8Array[] = [];
  let turn = 0;
  const memory = (rawLength: number): Uint8Array => {
    const slot = turn++ % depth;
    let buf = buffers[slot];
    if (buf === undefined || buf.length < rawLength) buffers[slot] = buf = new Uint8Array(Math.max(rawLength, DEFAULT_BLOCK_SIZE));
    return buf.subarray(0, rawLength);
  };
  return {
    compress: (raw, level) => zstdCodec.compress(raw, level),
    decompress: (frame, rawLength) => decompressInto(frame, rawLength, memory),
  };
}

/** A BlockCodec whose blocks' memory is handed back once read (see pooledZstdCodec). */
export interface PooledBlockCodec extends BlockCodec {
  /** A later block is decompressed into `raw`'s memory; what decompress did not return is ignored. */
  release(raw: Uint8Array): void;
  /** Buffers waiting to be used again (for tests). */
  readonly kept: number;
}

/**
 * zstdCodec for a reader that says when it is done with each block (a restore: restore.ts): with
 * the native binding, blocks decompress into buffers handed back by release() instead of a new
 * buffer each. A restore decompresses about as many bytes as it restores (1 GB per 1,000,000
 * records of 1 KiB); a buffer per block left tens of MB of dropped blocks waiting for the garbage
 * collector (docs/PERFORMANCE.md, "The restore's memory"). At most `max` buffers are kept.
 * zstd-codec, blocks larger than MAX_BLOCK_SIZE and whatever this path does not decompress to
 * exactly `rawLength` bytes go through zstdCodec.decompress: same bytes, same errors.
 */
export function pooledZstdCodec(max = 24): PooledBlockCodec {
  const free: ArrayBuffer[] = [];
  const mine = new WeakSet<ArrayBuffer>();
  const take = (rawLength: number): ArrayBuffer => {
    const i = free.findIndex((ab) => ab.byteLength >= rawLength);
    if (i >= 0) return free.splice(i, 1)[0]!;
    // not zeroed: decompress writes every byte handed out
    const ab = Buffer.allocUnsafeSlow(rawLength <= DEFAULT_BLOCK_SIZE ? DEFAULT_BLOCK_SIZE : MAX_BLOCK_SIZE).buffer as ArrayBuffer;
    mine.add(ab);
    return ab;
  };
  const give = (ab: ArrayBuffer): void => {
    if (mine.has(ab) && free.length < max && !free.includes(ab)) free.push(ab);
  };
  return {
    compress: (raw, level) => zstdCodec.compress(raw, level),
    decompress: (frame, rawLength) => decompressInto(frame, rawLength, (n) => new Uint8Array(take(n), 0, n), (out) => give(out.buffer as ArrayBuffer)),
    release: (raw) => give(raw.buffer as ArrayBuffer),
    get kept() {
      return free.length;
    },
  };
}
