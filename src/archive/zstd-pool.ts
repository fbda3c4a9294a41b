/**
 * zstd in worker threads: the same BlockCodec as zstdCodec, with compression off the main
 * thread, so that reading from the broker, encoding records and compressing run on separate
 * cores. Each worker has its own zstd instance: the native binding where it loads (codec.ts),
 * else zstd-codec (with its own 16 MiB heap).
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { MqbakError } from '../common/errors.js';
import { DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, nativeZstdPath, zstdBound, type BlockCodec } from './codec.js';

/** Frame buffers kept for reuse (each about a block's size). */
const MAX_FREE_FRAMES = 8;

// The worker is plain CommonJS given as a string: it needs no build step, so it runs the same
// from dist/ and from the TypeScript sources under tsx or vitest.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { crc32 } = require('node:zlib');
function serve(simple) {
  parentPort.on('message', (m) => {
    let out = null;
    let n = -1;
    try {
      if (m.op === 'block') n = simple.compressInto(m.out, m.data, m.level);
      else out = m.op === 'decompress' ? simple.decompress(m.data) : simple.compress(m.data, m.level);
    } catch (e) {
      // zstd-codec aborts (OOM) by throwing a string and is unusable afterwards
      parentPort.postMessage({ id: m.id, error: String(e), fatal: true });
      process.exit(1);
    }
    if (m.op === 'block') {
      // raw block and frame buffer both go back to their owner for reuse: no copy either way
      const moved = m.moved ? [m.data.buffer, m.out.buffer] : [m.out.buffer];
      if (n < 0) parentPort.postMessage({ id: m.id, error: 'compress failed', out: m.out, back: m.moved ? m.data : null }, moved);
      else parentPort.postMessage({ id: m.id, length: n, out: m.out, rawCrc: crc32(m.data), frameCrc: crc32(m.out.subarray(0, n)), back: m.moved ? m.data : null }, moved);
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
  try {
    const b = require(require('node:path').join(require('node:path').dirname(workerData.nativePath), '..', 'binding.js'));
    if (typeof b.CCtx === 'function') cctx = new b.CCtx();
  } catch {}
  serve({
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
  back?: Uint8Array | null;
}

interface Job {
  resolve: (r: Reply) => void;
  reject: (e: unknown) => void;
  op: 'compress' | 'decompress' | 'block';
}

interface Slot {
  worker: Worker;
  jobs: Map<number, Job>;
}

export interface ZstdPool extends BlockCodec {
  readonly size: number;
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
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { zstdPath, nativePath } });
    const slot: Slot = { worker, jobs: new Map() };
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
    if (i >= 0) return freeFrames.splice(i, 1)[0]!;
    return new Uint8Array(new ArrayBuffer(Math.max(need, zstdBound(DEFAULT_BLOCK_SIZE))));
  };
  function giveFrameBuffer(b: Uint8Array): void {
    if (b.byteLength > 0 && freeFrames.length < MAX_FREE_FRAMES) freeFrames.push(new Uint8Array(b.buffer));
  }

  const run = (op: Job['op'], data: Uint8Array, level: number, move = false, out?: Uint8Array): Promise<Reply> => {
    if (closed) return Promise.reject(new MqbakError('internal', 'zstd pool is closed'));
    // the least busy worker
    let best = 0;
    for (let i = 0; i < size; i++) {
      slots[i] ??= spawn(i);
      if (slots[i]!.jobs.size < slots[best]!.jobs.size) best = i;
    }
    const slot = slots[best]!;
    const id = nextId++;
    return new Promise<Reply>((resolve, reject) => {
      slot.jobs.set(id, { resolve, reject, op });
      slot.worker.ref();
      const moved = [...(move ? [data.buffer as ArrayBuffer] : []), ...(out ? [out.buffer as ArrayBuffer] : [])];
      slot.worker.postMessage({ id, op, data, level, moved: move, out }, moved);
    });
  };

  return {
    size,
    async compress(raw, level) {
      if (raw.length === 0 || raw.length > MAX_BLOCK_SIZE) throw new MqbakError('internal', `zstd: block of ${raw.length} bytes`);
      return (await run('compress', raw, level)).data!;
    },
    async compressBlock(raw, level, options) {
      if (raw.length === 0 || raw.length > MAX_BLOCK_SIZE) throw new MqbakError('internal', `zstd: block of ${raw.length} bytes`);
      // only a plain ArrayBuffer the view starts at can move (never Buffer's shared 8 KiB pool)
      const move = options.transfer && raw.byteOffset === 0 && raw.buffer instanceof ArrayBuffer && raw.buffer.byteLength > 8192;
      const r = await run('block', raw, level, move, takeFrameBuffer(zstdBound(raw.length)));
      const out = r.out!;
      let released = false;
      return {
        frame: out.subarray(0, r.length!),
        rawCrc: r.rawCrc!,
        frameCrc: r.frameCrc!,
        returned: r.back ? new Uint8Array(r.back.buffer) : null,
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
    async close() {
      closed = true;
      await Promise.all(slots.map((s) => s?.worker.terminate()));
    },
  };
}
