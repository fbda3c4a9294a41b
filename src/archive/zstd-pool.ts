/**
 * zstd in worker threads: the same BlockCodec as zstdCodec, with compression off the main
 * thread, so that reading from the broker, encoding records and compressing run on separate
 * cores. Each worker has its own zstd instance: the native binding where it loads (codec.ts),
 * else zstd-codec (with its own 16 MiB heap). In an encrypted store the worker also seals each
 * block right after compressing it, in the same buffer (segment-sealing.ts, BlockSealJob), so
 * that the main thread neither encrypts nor copies it.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MqbakError } from '../common/errors.js';
import { crc32 } from 'node:zlib';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, nativeZstdPath, zstdBound, zstdCodec, type BlockCodec } from './codec.js';
import { SEAL_LAYOUT, type BlockSealJob } from './segment-sealing.js';

/** Frame buffers kept for reuse (a block's size, or smaller for small blocks), and their bytes. */
const MAX_FREE_FRAMES = 256;
const MAX_FREE_FRAME_BYTES = 16 * 1024 * 1024;

// The worker is plain CommonJS given as a string: it needs no build step, so it runs the same
// from dist/ and from the TypeScript sources under tsx or vitest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
const { createCipheriv } = require('node:crypto');
// an encrypted store's blocks, sealed right after compression (segment-sealing.ts, BlockSealJob):
// the subkeys this worker was given, by the pool's number for them
const keys = new Map();
const L = workerData.sealLayout;
const PIECE = 64 * 1024;
// seals inner header | frame (frame: n bytes at L.inner) in place in buf, the tag after it; fills
// in the clear header's compressed length and CRC. Returns the sealed length.
function seal(s, buf, n, rawCrc) {
  const key = keys.get(s.keyId);
  const plain = L.inner + n;
  buf.set(s.inner, 0);
  new DataView(buf.buffer, buf.byteOffset).setUint32(L.innerRawCrcAt, rawCrc, true);
  const p = new DataView(s.prefix.buffer, s.prefix.byteOffset, s.prefix.byteLength);
  p.setUint32(L.prefixLengthAt, plain + L.tag, true);
  p.setUint32(L.prefixCrcAt, crc32(s.prefix.subarray(L.prefixCrcFrom, L.prefixCrcAt)), true);
  const aad = new Uint8Array(s.aadHead.length + s.prefix.length);
  aad.set(s.aadHead, 0);
  aad.set(s.prefix, s.aadHead.length);
  const c = createCipheriv('aes-256-gcm', key, s.nonce, { authTagLength: L.tag });
  c.setAAD(aad);
  // GCM gives back exactly as many bytes as it is given: each piece overwrites its plaintext
  for (let o = 0; o < plain; o += PIECE) buf.set(c.update(buf.subarray(o, Math.min(o + PIECE, plain))), o);
  c.final();
  buf.set(c.getAuthTag(), plain);
  return plain + L.tag;
}
function serve(simple) {
  parentPort.on('message', (m) => {
    if (m.op === 'key') {
      keys.set(m.keyId, m.key);
      return;
    }
    let out = null;
    let n = -1;
    // a sealed block's frame goes after the inner header
    const frameAt = m.seal ? L.inner : 0;
    try {
      if (m.op === 'block') n = simple.compressInto(m.out.subarray(frameAt, m.out.length - (m.seal ? L.tag : 0)), m.data, m.level);
      else if (m.op === 'into') n = simple.decompressInto(m.out, m.data.subarray(0, m.level));
      else out = m.op === 'decompress' ? simple.decompress(m.data) : simple.compress(m.data, m.level);
    } catch (e) {
      // zstd-codec aborts (OOM) by throwing a string and is unusable afterwards
      parentPort.postMessage({ id: m.id, error: String(e), fatal: true });
      process.exit(1);
    }
    if (m.op === 'into') {
      // a block's frame (the first m.level bytes of data) into out, which it must fill exactly;
      // the CRC-32 of what it holds then. Both buffers go back; -1: the caller asks again itself
      const length = n === m.out.length ? n : -1;
      const rawCrc = length < 0 ? 0 : crc32(m.out);
      parentPort.postMessage({ id: m.id, length, out: m.out, rawCrc, back: m.data }, [m.data.buffer, m.out.buffer]);
    } else if (m.op === 'block') {
      // raw block and frame buffer both go back to their owner for reuse: no copy either way
      const moved = m.moved ? [m.data.buffer, m.out.buffer] : [m.out.buffer];
      const back = m.moved ? m.data : null;
      if (n < 0) parentPort.postMessage({ id: m.id, error: 'compress failed', out: m.out, back }, moved);
      else if (m.seal) {
        const rawCrc = crc32(m.data);
        let length;
        try {
          length = seal(m.seal, m.out, n, rawCrc);
        } catch (e) {
          parentPort.postMessage({ id: m.id, error: 'seal failed: ' + (e && e.message), out: m.out, back }, moved);
          return;
        }
        parentPort.postMessage({ id: m.id, length, out: m.out, rawCrc, frameCrc: 0, prefix: m.seal.prefix, back }, moved);
      } else parentPort.postMessage({ id: m.id, length: n, out: m.out, rawCrc: crc32(m.data), frameCrc: crc32(m.out.subarray(0, n)), back }, moved);
    } else if (out === null) parentPort.postMessage({ id: m.id, error: m.op + ' failed' });
    else {
      // zstd-codec hands out a fresh copy of its heap: move it instead of copying it again
      const owned = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength;
      parentPort.postMessage({ id: m.id, data: out }, owned ? [out.buffer] : []);
    }
  });
}
// copies a frame made elsewhere into the caller's buffer (-1 when it does not fit)
function copyInto(dst, frame) {
  if (frame === null || frame.length > dst.length) return -1;
  dst.set(frame);
  return frame.length;
}
if (workerData.nativePath) {
  // the native binding: errors are thrown as Error objects and leave it usable
  const z = require(workerData.nativePath);
  // its low-level context compresses straight into the given buffer (ZSTD_compressCCtx: the same
  // one-shot frame, content size, no checksum); where that part is missing, a copy does it
  let cctx = null;
  let dctx = null;
  try {
    const b = require(require('node:path').join(require('node:path').dirname(workerData.nativePath), '..', 'binding.js'));
    if (typeof b.CCtx === 'function') cctx = new b.CCtx();
    // and its decompression context decompresses straight into the given buffer
    if (typeof b.DCtx === 'function') dctx = new b.DCtx();
  } catch {}
  const unpackInto = (dst, frame) => {
    try {
      return dctx ? dctx.decompress(dst, frame) : copyInto(dst, z.decompress(frame));
    } catch {
      return -1;
    }
  };
  serve({
    decompressInto: unpackInto,
    compress: (data, level) => z.compress(data, { compressionLevel: level }),
    compressInto: cctx ? (dst, data, level) => cctx.compress(dst, data, level) : (dst, data, level) => copyInto(dst, z.compress(data, { compressionLevel: level })),
    decompress: (data) => { try { return z.decompress(data); } catch { return null; } },
  });
} else {
  require(workerData.zstdPath).ZstdCodec.run((z) => {
    const s = new z.Simple();
    serve({
      compress: (data, level) => s.compress(data, level),
      compressInto: (dst, data, level) => copyInto(dst, s.compress(data, level)),
      decompressInto: (dst, frame) => copyInto(dst, s.decompress(frame)),
      decompress: (data) => s.decompress(data),
    });
  });
}
`;

interface Reply {
  id: number;
  data?: Uint8Array;
  /** a block's frame: the first `length` bytes of `out` */
  length?: number;
  out?: Uint8Array;
  error?: string;
  rawCrc?: number;
  frameCrc?: number;
  prefix?: Uint8Array;
  back?: Uint8Array | null;
}

interface Job {
  resolve: (r: Reply) => void;
  reject: (e: unknown) => void;
  op: 'compress' | 'decompress' | 'block' | 'into';
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
  /** the pool's numbers of the subkeys this worker holds */
  keys: Set<number>;
}

export interface ZstdPool extends BlockCodec {
  readonly size: number;
  /**
   * Decompresses the first `length` bytes of `frame` into `out`, in a worker, with the CRC-32 of
   * `out`. Both buffers are moved there and back (the caller's views of them are empty until this
   * settles; `frame` and `out` of the answer are views of the same memory). `length` is -1 when the
   * frame does not fill `out` exactly: the caller then decompresses it itself, for its error.
   */
  decompressInto(frame: Uint8Array, length: number, out: Uint8Array): Promise<{ length: number; rawCrc: number; frame: Uint8Array; out: Uint8Array }>;
  /** Ends the workers; jobs still running fail. */
  close(): Promise<void>;
}

export function defaultPoolSize(): number {
  // one core stays with the main thread (broker client, record encoding)
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

export function createZstdPool(options: { size?: number } = {}): ZstdPool {
  const size = options.size ?? defaultPoolSize();
  const zstdPath = createRequire(import.meta.url).resolve('zstd-codec');
  const nativePath = nativeZstdPath();
  const slots: Array<Slot | null> = Array.from({ length: size }, () => null);
  let nextId = 1;
  let closed = false;

  const spawn = (i: number): Slot => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { zstdPath, nativePath, sealLayout: { ...SEAL_LAYOUT } } });
    const slot: Slot = { worker, jobs: new Map(), keys: new Set() };
    worker.unref(); // referenced only while it has work (see run)
    worker.on('message', (m: Reply) => {
      const job = slot.jobs.get(m.id);
      if (!job) return;
      slot.jobs.delete(m.id);
      if (slot.jobs.size === 0) worker.unref();
      if (m.data || m.length !== undefined) job.resolve(m);
      else {
        if (m.out) giveFrameBuffer(m.out);
        job.reject(new MqbakError(job.op === 'decompress' ? 'integrity' : 'internal', `zstd worker: ${m.error ?? 'failed'}`));
      }
    });
    const fail = (why: string) => {
      if (slots[i] === slot) slots[i] = null;
      for (const job of slot.jobs.values()) job.reject(new MqbakError('internal', `zstd worker: ${why}`));
      slot.jobs.clear();
    };
    worker.on('error', (e) => fail(e.message));
    worker.on('exit', (code) => fail(`exited with code ${code}`));
    return slot;
  };

  // Frame buffers: each block is compressed into one of these, moved to the worker and back, and
  // lent to the caller until it calls release(). Reused, so a backup allocates none per block
  // (docs/PERFORMANCE.md, "Memory").
  const freeFrames: Uint8Array[] = [];
  const takeFrameBuffer = (need: number): Uint8Array => {
    const i = freeFrames.findIndex((b) => b.length >= need);
    if (i >= 0) {
      const b = freeFrames.splice(i, 1)[0]!;
      freeFrameBytes -= b.byteLength;
      return b;
    }
    // a small block (a small stream's, cut early by the writer's memory budget) gets a small
    // buffer: thousands of them may be in flight at once, one per stream
    const full = zstdBound(DEFAULT_BLOCK_SIZE) + SEAL_LAYOUT.inner + SEAL_LAYOUT.tag;
    return new Uint8Array(new ArrayBuffer(need >= full / 4 ? Math.max(need, full) : need));
  };
  let freeFrameBytes = 0;
  function giveFrameBuffer(b: Uint8Array): void {
    // kept rather than left to the garbage collector: buffers dropped by the thousand (a backup of
    // many small streams) stay resident until it runs
    if (b.byteLength === 0 || freeFrames.length >= MAX_FREE_FRAMES || freeFrameBytes + b.buffer.byteLength > MAX_FREE_FRAME_BYTES) return;
    freeFrames.push(new Uint8Array(b.buffer));
    freeFrameBytes += b.buffer.byteLength;
  }

  // subkeys by their bytes: each worker is sent each key once (a backup has one segment subkey)
  const keyIds = new Map<string, number>();

  const run = (op: Job['op'], data: Uint8Array, level: number, move = false, out?: Uint8Array, seal?: BlockSealJob): Promise<Reply> => {
    if (closed) return Promise.reject(new MqbakError('internal', 'zstd pool is closed'));
    // the least busy worker
    let best = 0;
    for (let i = 0; i < size; i++) {
      slots[i] ??= spawn(i);
      if (slots[i]!.jobs.size < slots[best]!.jobs.size) best = i;
    }
    const slot = slots[best]!;
    const id = nextId++;
    let sealing: Omit<BlockSealJob, 'key'> & { keyId: number } | undefined;
    if (seal) {
      const hex = seal.key.toString('hex');
      let keyId = keyIds.get(hex);
      if (keyId === undefined) keyIds.set(hex, (keyId = keyIds.size + 1));
      if (!slot.keys.has(keyId)) {
        slot.worker.postMessage({ op: 'key', keyId, key: seal.key });
        slot.keys.add(keyId);
      }
      sealing = { keyId, nonce: seal.nonce, aadHead: seal.aadHead, prefix: seal.prefix, inner: seal.inner };
    }
    return new Promise<Reply>((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject, op });
      slot.worker.ref();
      const moved = [...(move ? [data.buffer as ArrayBuffer] : []), ...(out ? [out.buffer as ArrayBuffer] : [])];
      slot.worker.postMessage({ id, op, data, level, moved: move, out, seal: sealing }, moved);
    });
  };

  return {
    size,
    async compress(raw, level) {
      if (raw.length === 0 || raw.length > MAX_BLOCK_SIZE) throw new MqbakError('internal', `zstd: block of ${raw.length} bytes`);
      return (await run('compress', raw, level)).data!;
    },
    sealsBlocks: true,
    async compressBlock(raw, level, options) {
      if (raw.length === 0 || raw.length > MAX_BLOCK_SIZE) throw new MqbakError('internal', `zstd: block of ${raw.length} bytes`);
      // only a plain ArrayBuffer the view starts at can move (never Buffer's shared 8 KiB pool)
      const move = options.transfer && raw.byteOffset === 0 && raw.buffer instanceof ArrayBuffer && raw.buffer.byteLength > 8192;
      const room = options.seal ? SEAL_LAYOUT.inner + SEAL_LAYOUT.tag : 0;
      const r = await run('block', raw, level, move, takeFrameBuffer(zstdBound(raw.length) + room), options.seal);
      const out = r.out!;
      let released = false;
      return {
        frame: out.subarray(0, r.length!),
        rawCrc: r.rawCrc!,
        frameCrc: r.frameCrc!,
        returned: r.back ? new Uint8Array(r.back.buffer) : null,
        ...(r.prefix ? { prefix: r.prefix } : {}),
        release: () => {
          if (!released) giveFrameBuffer(out);
          released = true;
        },
      };
    },
    async decompress(frame, rawLength) {
      const out = (await run('decompress', frame, 0)).data!;
      if (out.length !== rawLength) throw new MqbakError('integrity', `zstd frame decompressed to ${out.length} bytes, block header says ${rawLength}`);
      return out;
    },
    async decompressInto(frame, length, out) {
      const r = await run('into', frame, length, true, out);
      return { length: r.length!, rawCrc: r.rawCrc!, frame: r.back!, out: r.out! };
    },
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s?.worker.terminate()));
    },
  };
}

/** A BlockCodec whose decompress also gives the CRC-32 of the raw bytes it returns. */
export interface CheckingBlockCodec extends BlockCodec {
  decompressBlock(frame: Uint8Array, rawLength: number): Promise<{ raw: Uint8Array; rawCrc: number }>;
  close(): Promise<void>;
}

/**
 * Decompression in one worker thread for a reader that keeps nothing of a block once it has gone
 * on to the next and asks for each block one block ahead (verify's record scan): the worker
 * decompresses block i+1 and takes its CRC-32 while the main thread scans block i. Each frame is
 * copied into one of a few frame buffers and moved to the worker with the buffer it decompresses
 * into; both come back moved, and a block's memory is used again `depth` calls later. Whatever
 * the worker does not decompress to exactly `rawLength` bytes, and blocks larger than
 * DEFAULT_BLOCK_SIZE, go through zstdCodec.decompress in this thread: same bytes, same errors.
 */
export function workerScanCodec(depth = 3): CheckingBlockCodec {
  const pool = createZstdPool({ size: 1 });
  const raws: Array<Uint8Array | undefined> = [];
  const frames: Uint8Array[] = [];
  let calls = 0;
  const decompressBlock = async (frame: Uint8Array, rawLength: number): Promise<{ raw: Uint8Array; rawCrc: number }> => {
    const slot = calls++ % depth;
    if (rawLength === 0 || rawLength > DEFAULT_BLOCK_SIZE || frame.length > zstdBound(DEFAULT_BLOCK_SIZE)) {
      const raw = await zstdCodec.decompress(frame, rawLength);
      return { raw, rawCrc: crc32(raw) };
    }
    let out = raws[slot];
    raws[slot] = undefined;
    if (out === undefined || out.buffer.byteLength === 0) out = new Uint8Array(DEFAULT_BLOCK_SIZE);
    const copy = frames.pop() ?? new Uint8Array(zstdBound(DEFAULT_BLOCK_SIZE));
    copy.set(frame);
    // a worker that failed (exited) is no finding about the archive: this thread does the block
    const r = await pool.decompressInto(copy, frame.length, new Uint8Array(out.buffer, 0, rawLength)).catch(() => null);
    if (r !== null) {
      frames.push(new Uint8Array(r.frame.buffer));
      raws[slot] = new Uint8Array(r.out.buffer);
      if (r.length === rawLength) return { raw: r.out, rawCrc: r.rawCrc };
    }
    const raw = await zstdCodec.decompress(frame, rawLength);
    return { raw, rawCrc: crc32(raw) };
  };
  return {
    compress: (raw, level) => zstdCodec.compress(raw, level),
    decompress: async (frame, rawLength) => (await decompressBlock(frame, rawLength)).raw,
    decompressBlock,
    close: () => pool.close(),
  };
}
