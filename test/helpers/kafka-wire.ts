/**
 * A few raw Kafka requests (non-flexible versions), for what kafkajs does not show: the broker's
 * own answer, error codes included, with no client-side retry or mapping.
 */
import net from 'node:net';

export class Writer {
  private parts: Buffer[] = [];
  i8(v: number): this {
    const b = Buffer.alloc(1);
    b.writeInt8(v);
    this.parts.push(b);
    return this;
  }
  i16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }
  str(s: string | null): this {
    if (s === null) return this.i16(-1);
    const b = Buffer.from(s, 'utf8');
    this.i16(b.length);
    this.parts.push(b);
    return this;
  }
  buf(): Buffer {
    return Buffer.concat(this.parts);
  }
}

export class Reader {
  private of = 0;
  constructor(private readonly b: Buffer) {}
  i8(): number {
    const v = this.b.readInt8(this.of);
    this.of += 1;
    return v;
  }
  i16(): number {
    const v = this.b.readInt16BE(this.of);
    this.of += 2;
    return v;
  }
  i32(): number {
    const v = this.b.readInt32BE(this.of);
    this.of += 4;
    return v;
  }
  i64(): bigint {
    const v = this.b.readBigInt64BE(this.of);
    this.of += 8;
    return v;
  }
  str(): string | null {
    const n = this.i16();
    if (n < 0) return null;
    const s = this.b.toString('utf8', this.of, this.of + n);
    this.of += n;
    return s;
  }
  /** int32-length bytes (null when the length is -1) */
  bytes(): Buffer | null {
    const n = this.i32();
    if (n < 0) return null;
    const b = this.b.subarray(this.of, this.of + n);
    this.of += n;
    return b;
  }
}

/** One request/response on a fresh connection (request header v1, response header v0). */
export function rawRequest(address: string, apiKey: number, apiVersion: number, body: Buffer): Promise<Reader> {
  const i = address.lastIndexOf(':');
  const header = new Writer().i16(apiKey).i16(apiVersion).i32(7).str('mqbak-raw').buf();
  const frame = Buffer.concat([new Writer().i32(header.length + body.length).buf(), header, body]);
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)) });
    let got = Buffer.alloc(0);
    sock.setTimeout(15_000, () => sock.destroy(new Error(`no answer from ${address} to api ${apiKey}`)));
    sock.on('connect', () => sock.write(frame));
    sock.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        sock.end();
        const r = new Reader(got.subarray(4, 4 + got.readInt32BE(0)));
        if (r.i32() !== 7) reject(new Error('correlation id mismatch'));
        else resolve(r);
      }
    });
    sock.on('error', reject);
  });
}
