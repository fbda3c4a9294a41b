/**
 * Messages of a stream read collected as record columns (RecordColumns) over one buffer per
 * batch: each message's bytes (header block and data) are copied in once, the headers become
 * spans of the copied block, and the attributes {"subject": ...} are copied from a small cache of
 * their canonical JSON by subject. The archive gets the same bytes as through recordOfCore and
 * archiveRecordOf (records.ts), without an ArchiveRecord, header objects or strings per message.
 */
import { canonicalJson } from '../../common/canonical-json.js';
import { MqbakError } from '../../common/errors.js';
import { ColumnsBuilder, type RecordColumns } from '../../common/record.js';
import { checkHeaderName, scanHeaderBlock, type HeaderSpan } from './header-block.js';
import type { CoreMsg } from './raw-message.js';

const MIN_BUFFER = 64 * 1024;
/**
 * Released buffers kept for the next batches, at most this many bytes of them: the read fills
 * several batches ahead of the archive and hands them over in bursts.
 */
const FREE_BYTES = 32 * 1024 * 1024;
const RECENT_SUBJECTS = 8;
const subjectText = new TextDecoder();
const utf8 = new TextEncoder();

export class ColumnBatch {
  private cols: ColumnsBuilder;
  private buf: Uint8Array;
  private length = 0;
  /** Sizes of the last batch taken: the next one starts as large. */
  private lastRecords = 8;
  private lastHeaders = 8;
  private lastBytes = MIN_BUFFER;
  /** The attributes of subjects seen lately: a stream's messages mostly come on a few subjects. */
  private readonly subjects: Array<{ bytes: Uint8Array; json: Uint8Array }> = [];
  private nextSubject = 0;
  private readonly header: HeaderSpan;
  /** The buffers of the columns handed out and not released yet, oldest first. */
  private readonly handed: Uint8Array[] = [];
  private readonly free: Uint8Array[] = [];
  private freeBytes = 0;

  constructor(private readonly stream: string) {
    this.cols = new ColumnsBuilder(this.lastRecords, this.lastHeaders);
    this.buf = Buffer.allocUnsafeSlow(this.lastBytes);
    this.header = (ns, ne, vs, ve) => {
      const c = this.cols;
      checkHeaderName(this.buf, ns, ne, c.headers - c.headerStart[c.count]!);
      if (c.headers === c.headerNameStart.length) c.growHeaders();
      const h = c.headers++;
      c.headerNameStart[h] = ns;
      c.headerNameLength[h] = ne - ns;
      c.headerValueStart[h] = vs < 0 ? 0 : vs;
      c.headerValueLength[h] = vs < 0 ? -1 : ve - vs;
    };
  }

  get count(): number {
    return this.cols.count;
  }

  /**
   * Adds message `m` of the stream, delivered with sequence `seq` (< 2^53) and timestamp
   * `timestamp` (whole ms). Returns the bytes it counts for in the read's limits.
   */
  add(m: CoreMsg, seq: number, timestamp: number): number {
    const c = this.cols;
    if (c.count === c.position.length) c.growRecords();
    const i = c.count;
    const hdr = m._msg.hdr;
    const all = m._rdata;
    const size = all?.length ?? 0;
    const h = hdr >= 0 ? hdr : 0;
    if (h > size) throw new MqbakError('integrity', `stream ${this.stream} message ${seq}: a header block of ${h} bytes in a message of ${size}`);
    const json = this.attributes(m._msg.subject);
    this.reserve(size + json.length);
    const o = this.length;
    if (all !== undefined) this.buf.set(all, o);
    c.position[i] = seq;
    c.timestamp[i] = timestamp;
    c.timestampType[i] = 0;
    c.keyStart[i] = 0;
    c.keyLength[i] = -1;
    c.valueStart[i] = o + h;
    c.valueLength[i] = size - h;
    c.headerStart[i] = c.headers;
    if (hdr >= 0) {
      try {
        scanHeaderBlock(this.buf, o, o + h, this.header);
      } catch (e) {
        c.headers = c.headerStart[i]!;
        throw new MqbakError('integrity', `stream ${this.stream} message ${seq}: unreadable header block: ${(e as Error).message}`, { cause: e });
      }
    }
    const a = o + size;
    this.buf.set(json, a);
    c.attributeStart[i] = a;
    c.attributeLength[i] = json.length;
    this.length = a + json.length;
    c.count++;
    return size - h + 64;
  }

  /**
   * The columns of the messages added since the last take, over a buffer of their own that is
   * not written to again until release() gives it back.
   */
  take(): RecordColumns {
    const cols = this.cols.finish(this.buf.subarray(0, this.length));
    this.handed.push(this.buf);
    this.lastRecords = Math.max(8, cols.count);
    this.lastHeaders = Math.max(8, cols.headerNameStart.length);
    this.lastBytes = Math.max(MIN_BUFFER, this.length);
    this.cols = new ColumnsBuilder(this.lastRecords, this.lastHeaders);
    const free = this.free.pop();
    if (free !== undefined) this.freeBytes -= free.length;
    // room for a batch a little larger than this one
    this.buf = free ?? Buffer.allocUnsafeSlow(this.lastBytes + (this.lastBytes >> 2));
    this.length = 0;
    return cols;
  }

  /** The oldest columns taken and not released are no longer used: their buffer may be reused. */
  release(): void {
    const buf = this.handed.shift();
    // a buffer that very large messages grew is not kept
    if (buf !== undefined && this.freeBytes + buf.length <= FREE_BYTES && buf.length <= 4 * Math.max(MIN_BUFFER, this.lastBytes)) {
      this.free.push(buf);
      this.freeBytes += buf.length;
    }
  }

  private reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafeSlow(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  /** The attributes of a message on the subject in `bytes` (UTF-8), as canonical JSON (UTF-8). */
  private attributes(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    for (const r of this.subjects) {
      const b = r.bytes;
      if (b.length !== n) continue;
      let k = n - 1;
      // subjects of a stream share their start: compare from the end
      while (k >= 0 && b[k] === bytes[k]) k--;
      if (k < 0) return r.json;
    }
    const json = utf8.encode(canonicalJson({ subject: subjectText.decode(bytes) }));
    this.subjects[this.nextSubject] = { bytes: bytes.slice(), json };
    this.nextSubject = (this.nextSubject + 1) % RECENT_SUBJECTS;
    return json;
  }
}
