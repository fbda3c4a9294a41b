/**
 * A cursor over the compact canonical JSON of archived attributes (docs/FORMAT.md 4.5.1), for the
 * content-header writer (attributes-header.ts): literals, strings without escapes and integers,
 * read in place from the archive's bytes. Anything else gives up with NOT_COMMON, and the caller
 * takes the general path.
 */
import { isUtf8 } from 'node:buffer';

export const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Gives up on this message: the general path takes it. */
class NotCommon extends Error {}
export const NOT_COMMON = new NotCommon();

export class JsonCursor {
  /** The bytes read, the position of the next byte, and the end of the attributes. */
  protected src: Uint8Array = new Uint8Array(0);
  protected p = 0;
  protected end = 0;

  /** A JSON string without escapes, of valid UTF-8; returns where its bytes start (they end at this.p - 1). */
  protected string(): number {
    const src = this.src;
    this.expect1(0x22);
    const s = this.p;
    let allAscii = true;
    for (let k = s; k < this.end; k++) {
      const c = src[k]!;
      if (c === 0x22) {
        if (!allAscii && !isUtf8(src.subarray(s, k))) this.fail();
        this.p = k + 1;
        return s;
      }
      if (c === 0x5c || c < 0x20) this.fail();
      if (c >= 0x80) allAscii = false;
    }
    return this.fail();
  }

  /** A JSON integer in [min, max] (no fraction or exponent). */
  protected integer(min: number, max: number): number {
    const src = this.src;
    let k = this.p;
    const negative = src[k] === 0x2d;
    if (negative) k++;
    const first = k;
    let v = 0;
    while (k < this.end && src[k]! >= 0x30 && src[k]! <= 0x39 && k - first < 16) v = v * 10 + (src[k++]! - 0x30);
    if (k === first || (src[first] === 0x30 && k - first > 1)) this.fail();
    const c = src[k];
    if (c === 0x2e || c === 0x65 || c === 0x45 || (c !== undefined && c >= 0x30 && c <= 0x39)) this.fail();
    if (negative) v = -v;
    if (v < min || v > max || Object.is(v, -0)) this.fail();
    this.p = k;
    return v;
  }

  protected latin1(s: number, e: number): string {
    return Buffer.from(this.src.buffer, this.src.byteOffset + s, e - s).toString('latin1');
  }

  /** Whether src[s, e) (or other[s, e)) equals `b`. */
  protected equals(s: number, e: number, b: Uint8Array, other: Uint8Array = this.src): boolean {
    if (e - s !== b.length) return false;
    for (let k = 0; k < b.length; k++) if (other[s + k] !== b[k]) return false;
    return true;
  }

  protected accept(lit: Uint8Array): boolean {
    if (this.p + lit.length > this.end || !this.equals(this.p, this.p + lit.length, lit)) return false;
    this.p += lit.length;
    return true;
  }

  protected expect(lit: Uint8Array): void {
    if (!this.accept(lit)) this.fail();
  }

  protected expect1(c: number): void {
    if (this.src[this.p] !== c || this.p >= this.end) this.fail();
    this.p++;
  }

  protected fail(): never {
    throw NOT_COMMON;
  }
}
