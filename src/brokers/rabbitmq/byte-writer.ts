/**
 * A growable byte buffer written front to back, for building a batch of records' bytes
 * (delivery-batch.ts) without a buffer per value.
 */
export class ByteWriter {
  buf: Buffer;
  /** Bytes written so far; may be set back to drop what came after. */
  length = 0;

  constructor(initial = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  byte(b: number): void {
    if (this.length >= this.buf.length) this.reserve(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.span(b, 0, b.length);
  }

  /** Bytes [s, e) of `src`. */
  span(src: Uint8Array, s: number, e: number): void {
    const n = e - s;
    this.reserve(n);
    const buf = this.buf;
    let o = this.length;
    // short spans byte by byte: cheaper than a subarray each
    if (n < 48) for (let k = s; k < e; k++) buf[o++] = src[k]!;
    else buf.set(src.subarray(s, e), o);
    this.length += n;
  }

  /** A string of code units below 256, one byte each. */
  latin1(s: string): void {
    this.reserve(s.length);
    const buf = this.buf;
    let o = this.length;
    for (let k = 0; k < s.length; k++) buf[o++] = s.charCodeAt(k);
    this.length = o;
  }

  /** A string as UTF-8. */
  utf8(s: string): void {
    this.reserve(Buffer.byteLength(s, 'utf8'));
    this.length += this.buf.write(s, this.length, 'utf8');
  }

  /** An integer (|v| < 2^53) in decimal, as JavaScript prints it. */
  int(v: number): void {
    if (v < 0) {
      this.byte(0x2d);
      v = -v;
    }
    if (v < 10) {
      this.byte(0x30 + v);
      return;
    }
    let digits = 1;
    for (let p = 10; p <= v; p *= 10) digits++;
    this.reserve(digits);
    const buf = this.buf;
    for (let o = this.length + digits - 1; o >= this.length; o--) {
      const q = Math.floor(v / 10);
      buf[o] = 0x30 + (v - q * 10);
      v = q;
    }
    this.length += digits;
  }
}
