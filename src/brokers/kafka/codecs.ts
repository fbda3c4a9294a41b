/**
 * Decompression of the Kafka record batch codecs that Node has no module for: lz4 (the LZ4 frame
 * format, as Kafka's clients write it for magic 2 batches) and snappy (raw, as librdkafka writes
 * it, or in snappy-java's framing, as Kafka's Java client writes it). Pure; every length is
 * checked against the input, and LZ4's optional block and content checksums (xxHash32) are
 * verified when the producer wrote them. Malformed input throws.
 */

class Output {
  buf: Uint8Array;
  n = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(Math.max(size, 1024));
  }
  ensure(extra: number, max: number): void {
    if (this.n + extra > max) throw new Error(`decompresses to more than ${max} bytes`);
    if (this.n + extra <= this.buf.length) return;
    const b = new Uint8Array(Math.min(max, Math.max(this.buf.length * 2, this.n + extra)));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  result(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
}

function fail(what: string): never {
  throw new Error(what);
}

// ---- xxHash32 (the LZ4 frame's checksums) ----

const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;
const P4 = 0x27d4eb2f;
const P5 = 0x165667b1;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

export function xxh32(b: Uint8Array, start = 0, end = b.length, seed = 0): number {
  let p = start;
  let h: number;
  if (end - start >= 16) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    const limit = end - 16;
    while (p <= limit) {
      v1 = Math.imul(rotl((v1 + Math.imul(u32(b, p), P2)) | 0, 13), P1);
      v2 = Math.imul(rotl((v2 + Math.imul(u32(b, p + 4), P2)) | 0, 13), P1);
      v3 = Math.imul(rotl((v3 + Math.imul(u32(b, p + 8), P2)) | 0, 13), P1);
      v4 = Math.imul(rotl((v4 + Math.imul(u32(b, p + 12), P2)) | 0, 13), P1);
      p += 16;
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + (end - start)) | 0;
  while (p + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(u32(b, p), P3)) | 0, 17), P4);
    p += 4;
  }
  while (p < end) {
    h = Math.imul(rotl((h + Math.imul(b[p]!, P5)) | 0, 11), P1);
    p++;
  }
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h >>> 0;
}

// ---- LZ4 ----

/** One LZ4 block (src[start, end)) appended to out; matches may reach into earlier output. */
function lz4Block(src: Uint8Array, start: number, end: number, out: Output, max: number): void {
  let ip = start;
  for (;;) {
    if (ip >= end) fail('lz4: block ends inside a sequence');
    const token = src[ip++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= end) fail('lz4: literal length runs past the block');
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > end) fail('lz4: literals run past the block');
    out.ensure(lit, max);
    out.buf.set(src.subarray(ip, ip + lit), out.n);
    out.n += lit;
    ip += lit;
    if (ip === end) return; // the last sequence has literals only
    if (ip + 2 > end) fail('lz4: match offset runs past the block');
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > out.n) fail('lz4: match offset outside the output');
    let len = token & 15;
    if (len === 15) {
      let b: number;
      do {
        if (ip >= end) fail('lz4: match length runs past the block');
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    len += 4;
    out.ensure(len, max);
    const o = out.buf;
    let from = out.n - offset;
    // byte by byte: a match may overlap the bytes it writes
    for (let k = 0; k < len; k++) o[out.n++] = o[from++]!;
  }
}

const LZ4_MAGIC = 0x184d2204;
const BLOCK_SIZES = [0, 0, 0, 0, 64 << 10, 256 << 10, 1 << 20, 4 << 20];

/** An LZ4 frame (Kafka's lz4 codec for magic 2 batches): its decompressed bytes. */
export function lz4FrameDecompress(src: Uint8Array, max: number): Uint8Array {
  if (src.length < 7 || u32(src, 0) !== LZ4_MAGIC) fail('lz4: not an LZ4 frame');
  const flg = src[4]!;
  const bd = src[5]!;
  if (flg >>> 6 !== 1) fail(`lz4: frame version ${flg >>> 6}`);
  if (flg & 1) fail('lz4: frames with a dictionary are not supported');
  const blockChecksums = (flg & 0x10) !== 0;
  const contentSize = (flg & 0x08) !== 0;
  const contentChecksum = (flg & 0x04) !== 0;
  const blockMax = BLOCK_SIZES[(bd >>> 4) & 7] ?? 0;
  if (blockMax === 0) fail('lz4: bad block size');
  let p = 6;
  let size = -1;
  if (contentSize) {
    if (src.length < p + 8) fail('lz4: frame header cut off');
    size = u32(src, p) + u32(src, p + 4) * 2 ** 32;
    if (size > max) fail(`lz4: decompresses to more than ${max} bytes`);
    p += 8;
  }
  p++; // header checksum (Kafka's clients before KIP-57 wrote it wrongly: not checked)
  const out = new Output(size >= 0 ? size : Math.min(max, src.length * 4));
  for (;;) {
    if (p + 4 > src.length) fail('lz4: frame cut off');
    const word = u32(src, p);
    p += 4;
    if (word === 0) break; // end mark
    const raw = (word & 0x80000000) !== 0;
    const n = word & 0x7fffffff;
    if (n > blockMax || p + n + (blockChecksums ? 4 : 0) > src.length) fail('lz4: block runs past the frame');
    if (blockChecksums && xxh32(src, p, p + n) !== u32(src, p + n)) fail('lz4: block checksum mismatch');
    if (raw) {
      out.ensure(n, max);
      out.buf.set(src.subarray(p, p + n), out.n);
      out.n += n;
    } else {
      lz4Block(src, p, p + n, out, max);
    }
    p += n + (blockChecksums ? 4 : 0);
  }
  const result = out.result();
  if (contentChecksum) {
    if (p + 4 > src.length) fail('lz4: content checksum cut off');
    if (xxh32(result) !== u32(src, p)) fail('lz4: content checksum mismatch');
  }
  if (size >= 0 && result.length !== size) fail(`lz4: ${result.length} bytes, the frame says ${size}`);
  return result;
}

// ---- snappy ----

/** One raw snappy block, appended to out. */
function snappyBlock(src: Uint8Array, start: number, end: number, out: Output, max: number): void {
  let p = start;
  // preamble: the uncompressed length, a varint
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    if (p >= end || shift > 28) fail('snappy: bad length');
    const b = src[p++]!;
    length += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) break;
  }
  const first = out.n;
  out.ensure(length, max);
  const stop = first + length;
  while (p < end) {
    const tag = src[p++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const bytes = len - 59;
        if (p + bytes > end) fail('snappy: literal length cut off');
        len = 0;
        for (let k = 0; k < bytes; k++) len += src[p + k]! * 2 ** (8 * k);
        p += bytes;
      }
      len += 1;
      if (p + len > end || out.n + len > stop) fail('snappy: literal runs past its block');
      out.buf.set(src.subarray(p, p + len), out.n);
      out.n += len;
      p += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (p >= end) fail('snappy: copy cut off');
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[p++]!;
    } else if (kind === 2) {
      if (p + 2 > end) fail('snappy: copy cut off');
      len = (tag >>> 2) + 1;
      offset = src[p]! | (src[p + 1]! << 8);
      p += 2;
    } else {
      if (p + 4 > end) fail('snappy: copy cut off');
      len = (tag >>> 2) + 1;
      offset = u32(src, p);
      p += 4;
    }
    if (offset === 0 || offset > out.n - first || out.n + len > stop) fail('snappy: copy outside its block');
    const o = out.buf;
    let from = out.n - offset;
    for (let k = 0; k < len; k++) o[out.n++] = o[from++]!;
  }
  if (out.n !== stop) fail(`snappy: ${out.n - first} bytes, the block says ${length}`);
}

const XERIAL = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00];

/** Kafka's snappy codec: a raw snappy block, or snappy-java's framing of such blocks. */
export function snappyDecompress(src: Uint8Array, max: number): Uint8Array {
  const out = new Output(Math.min(max, src.length * 3));
  if (src.length >= 16 && XERIAL.every((b, i) => src[i] === b)) {
    // "\x82SNAPPY\0", version, minimum compatible version; then chunks: i32 length (big endian) + block
    let p = 16;
    while (p < src.length) {
      if (p + 4 > src.length) fail('snappy: chunk length cut off');
      const n = ((src[p]! << 24) | (src[p + 1]! << 16) | (src[p + 2]! << 8) | src[p + 3]!) >>> 0;
      p += 4;
      if (p + n > src.length) fail('snappy: chunk runs past the data');
      snappyBlock(src, p, p + n, out, max);
      p += n;
    }
  } else {
    snappyBlock(src, 0, src.length, out, max);
  }
  return out.result();
}
