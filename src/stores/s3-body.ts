/**
 * An upload's body as the caller gave it: a list of parts (a segment's 1 MiB chunks), sent one
 * after the other without joining them into one buffer. The SDK gets a PartsBody as the request
 * body; the client middleware installed by sendPartsBodies turns it into a fresh stream of views
 * of the parts each time a request is sent (a retry, a region redirect), and signs it with the
 * SHA-256 of the parts, computed once (or given by the caller, who had it already). A multipart upload's parts are slices of it: views again,
 * one per chunk the part touches.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';

/** Bytes as one buffer or as parts, one after the other. */
export type Bytes = Uint8Array | readonly Uint8Array[];

export class PartsBody {
  readonly parts: readonly Uint8Array[];
  readonly length: number;
  private sha256?: string;

  /**
   * `sha256`: the hex SHA-256 of exactly these bytes when the caller already has it (a segment's,
   * from its manifest entry): the request is then signed with it, and the bytes are not hashed again.
   */
  constructor(body: Bytes, sha256?: string) {
    this.parts = body instanceof Uint8Array ? [body] : body;
    this.length = this.parts.reduce((n, p) => n + p.length, 0);
    if (sha256 !== undefined && /^[0-9a-f]{64}$/.test(sha256)) this.sha256 = sha256;
  }

  /** The bytes [start, end) as views of the parts (a part cut at either edge is a subarray). */
  slice(start: number, end: number): PartsBody {
    const views: Uint8Array[] = [];
    let at = 0;
    for (const p of this.parts) {
      const from = Math.max(start, at);
      const to = Math.min(end, at + p.length);
      if (from < to) views.push(from === at && to === at + p.length ? p : p.subarray(from - at, to - at));
      at += p.length;
      if (at >= end) break;
    }
    return new PartsBody(views);
  }

  /**
   * A new stream of the parts, as Buffer views of their memory. One part per read, in object
   * mode: a byte stream would join parts that wait in its buffer into one new buffer on read.
   */
  stream(): Readable {
    const parts = this.parts.filter((p) => p.length > 0);
    let next = 0;
    return new Readable({
      objectMode: true,
      highWaterMark: 1,
      read() {
        const p = parts[next++];
        this.push(p === undefined ? null : Buffer.from(p.buffer, p.byteOffset, p.byteLength));
      },
    });
  }

  /** x-amz-content-sha256: hex of the SHA-256 of the bytes (the signed payload), computed once unless given. */
  sha256Hex(): string {
    this.sha256 ??= hashOf('sha256', this.parts).toString('hex');
    return this.sha256;
  }
}

/** The digest of the parts under a node:crypto hash ('md5', 'sha1', 'sha256'). */
export function hashOf(algorithm: string, parts: readonly Uint8Array[]): Buffer {
  const h = createHash(algorithm);
  for (const p of parts) h.update(p);
  return h.digest();
}

/** Whether `stored` holds exactly the bytes of `body`. */
export function sameBytes(stored: Uint8Array, body: Bytes): boolean {
  const b = new PartsBody(body);
  if (stored.length !== b.length) return false;
  let at = 0;
  for (const p of b.parts) {
    if (Buffer.compare(Buffer.from(stored.buffer, stored.byteOffset + at, p.length), Buffer.from(p.buffer, p.byteOffset, p.byteLength)) !== 0) return false;
    at += p.length;
  }
  return true;
}

/**
 * Lets `client` send a PartsBody given as a command's Body. It runs in the build step, before
 * the request is signed: the signature then covers the parts' SHA-256 (a signed payload, as for a
 * buffer), and the body is a stream made for this very attempt.
 */
export function sendPartsBodies(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { body?: unknown; headers?: Record<string, string> };
      if (request.body instanceof PartsBody && request.headers) {
        request.headers['x-amz-content-sha256'] = request.body.sha256Hex();
        request.body = request.body.stream();
      }
      return next(args);
    },
    { step: 'build', priority: 'low', name: 'mqbakPartsBody' },
  );
}
