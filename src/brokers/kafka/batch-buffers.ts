/**
 * The memory of Produce requests (batch-producer.ts), used again once a request is answered. A
 * restore encodes about as many bytes of requests as it restores, about 1 MB per request: a new
 * buffer for each left the garbage collector tens of MB of requests already answered, on top
 * of the live ones, and their churn fragmented the process's heap. Requests of BatchBuffers.SIZE
 * bytes or less get one of its buffers of that size; smaller ones (the last of a partition,
 * single records) and larger ones get memory of their own. Every buffer owns its ArrayBuffer,
 * so that it can move to the checksum worker and back.
 */

export class BatchBuffers {
  /** Room of a pooled buffer: a full request (stream-writer.ts cuts batches at 1,000,000 bytes), its frame and request header. */
  static readonly SIZE = 1024 * 1024 + 64 * 1024;
  /** Requests smaller than this are not worth a pooled buffer. */
  static readonly MIN = 256 * 1024;
  private readonly free: ArrayBuffer[] = [];

  /** `max`: buffers kept for reuse (a few per partition written at once). */
  constructor(private readonly max = 12) {}

  /** A Buffer of `length` bytes (not zeroed) over memory of its own. */
  take(length: number): Buffer {
    if (length < BatchBuffers.MIN || length > BatchBuffers.SIZE) return Buffer.allocUnsafeSlow(length);
    const ab = this.free.pop() ?? Buffer.allocUnsafeSlow(BatchBuffers.SIZE).buffer;
    return Buffer.from(ab, 0, length);
  }

  /**
   * Gives back the memory of `buf`, which nothing reads or writes any more (its request was
   * answered); buffers that are not the pool's are left to the garbage collector.
   */
  give(buf: Buffer): void {
    const ab = buf.buffer;
    if (!(ab instanceof ArrayBuffer) || ab.byteLength !== BatchBuffers.SIZE || buf.byteOffset !== 0) return;
    if (this.free.length < this.max && !this.free.includes(ab)) this.free.push(ab);
  }

  /** Buffers waiting to be used again. */
  get kept(): number {
    return this.free.length;
  }
}
