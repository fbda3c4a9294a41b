/**
 * Kafka record batches (magic 2), as a Fetch response carries them, decoded into RecordColumns:
 * positions, timestamps and spans into the response's own bytes, without an object per record.
 * Every codec is read: gzip (node:zlib), snappy and lz4 (codecs.ts) and, given a decompressor,
 * zstd; without one, zstd batches are refused (UnsupportedCompression).
 * Pure: no I/O. Follows Apache Kafka's DefaultRecordBatch / DefaultRecord layout and its
 * consumer's handling of transactions (FetchCollector / CompletedFetch, read_committed).
 *
 *   batch  := baseOffset i64, batchLength i32, partitionLeaderEpoch i32, magic i8, crc u32,
 *             attributes i16, lastOffsetDelta i32, baseTimestamp i64, maxTimestamp i64,
 *             producerId i64, producerEpoch i16, baseSequence i32, recordCount i32, records
 *   record := length varint, attributes i8, timestampDelta varlong, offsetDelta varint,
 *             key (varint length, -1 null), value (same), headerCount varint,
 *             headers (name: varint length + UTF-8, value: varint length, -1 null)
 *
 * Attributes: bits 0-2 compression (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd), bit 3 timestamp
 * type (1: LogAppendTime, the batch's maxTimestamp is every record's), bit 4 transactional,
 * bit 5 control batch. The batch CRC is not checked here (kafkajs and librdkafka by default do
 * not either); the archive checksums what is stored from then on.
 */
import { gunzipSync } from 'node:zlib';
import { ColumnsBuilder, type RecordColumns } from '../../common/record.js';
import { utf8NameChecker } from '../../common/utf8-names.js';
import { lz4FrameDecompress, snappyDecompress } from './codecs.js';

const BATCH_HEADER = 61;
const MAX_EXACT = 2 ** 53;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
/** Bytes a compressed batch may decompress to (Kafka's own limits are far below). */
const MAX_BATCH = 256 * 1024 * 1024;

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface DecodeOptions {
  /** Records before this offset are skipped (a fetch returns whole batches). */
  from: bigint;
  /** Records at or past this offset are left out (the end noted at start, exclusive). */
  to: bigint;
  readCommitted: boolean;
  /** The Fetch response's aborted transactions for this partition (read_committed). */
  aborted: readonly AbortedTransaction[];
  /** Decompresses zstd batches; without it they are refused (UnsupportedCompression). */
  zstd?: ((data: Uint8Array) => Uint8Array) | null;
}

export interface DecodedBatches {
  /** The records kept, in offset order: one set of columns per buffer they point into. */
  columns: RecordColumns[];
  /** Where the next fetch starts: past the last whole batch read (or `from` when none was). */
  next: bigint;
  /**
   * Set when a batch cannot be read this way but kafkajs' consumer can read it (an older message
   * format, a header name that is not UTF-8): the records before it are in `columns`, and
   * `next` is the first offset still wanted.
   */
  unsupported: { offset: bigint; reason: string } | null;
}

class Malformed extends Error {}

/**
 * A batch compressed with a codec there is no decoder for (zstd without a decompressor, a codec
 * number Kafka does not define): the backup stops.
 */
export class UnsupportedCompression extends Error {
  constructor(
    readonly codec: string,
    readonly offset: bigint,
  ) {
    super(`record batch at offset ${offset} is compressed with ${codec}`);
  }
}

/** A cursor over varints; throws Malformed past `end`. Module-level state: no object per field. */
let buf: Uint8Array = new Uint8Array(0);
let at = 0;
let end = 0;

function varint(): number {
  // zigzag varint of at most 32 bits (lengths, counts, offset deltas)
  let v = 0;
  let shift = 0;
  for (;;) {
    if (at >= end) throw new Malformed('record runs past its batch');
    const b = buf[at++]!;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
    if (shift > 28) throw new Malformed('varint too long');
  }
  return (v >>> 1) ^ -(v & 1);
}

function varlong(): number {
  // zigzag varint of up to 64 bits, as a number (timestamp deltas: exact below 2^53)
  let v = 0;
  let mul = 1;
  for (let i = 0; ; i++) {
    if (at >= end) throw new Malformed('record runs past its batch');
    const b = buf[at++]!;
    v += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) break;
    mul *= 128;
    if (i >= 9) throw new Malformed('varlong too long');
  }
  return v % 2 === 0 ? v / 2 : -(v + 1) / 2;
}

/** Where the field span() read last starts (a variable, not a returned pair: no garbage per field). */
let spanAt = 0;

/** Reads a length-prefixed field: returns its length (-1: null) and leaves its start in spanAt. */
function span(): number {
  const n = varint();
  if (n < -1) throw new Malformed(`negative length ${n}`);
  if (n === -1) {
    spanAt = 0;
    return -1;
  }
  spanAt = at;
  at += n;
  if (at > end) throw new Malformed('field runs past its record');
  return n;
}

const validName = utf8NameChecker();

/**
 * Reads the records of one batch (bytes [start, stop) of `bytes`) into `out`. Returns the
 * offset of the first record it could not take (a header name that is not UTF-8), or null.
 */
function readRecords(
  out: ColumnsBuilder,
  bytes: Uint8Array,
  start: number,
  stop: number,
  count: number,
  baseOffset: number,
  baseTimestamp: number,
  logAppendTime: number | null,
  from: number,
  to: number,
): number | null {
  buf = bytes;
  at = start;
  end = stop;
  for (let r = 0; r < count; r++) {
    const length = varint();
    const recordEnd = at + length;
    if (length < 0 || recordEnd > stop) throw new Malformed(`record ${r} of ${length} bytes runs past its batch`);
    end = recordEnd;
    at++; // attributes: unused
    const tsDelta = varlong();
    const offset = baseOffset + varint();
    if (offset < from || offset >= to) {
      at = recordEnd;
      end = stop;
      continue;
    }
    if (out.count === out.position.length) out.growRecords();
    const i = out.count;
    const kl = span();
    const ks = spanAt;
    const vl = span();
    const vs = spanAt;
    const hc = varint();
    if (hc < 0) throw new Malformed(`negative header count ${hc}`);
    const h0 = out.headers;
    for (let h = 0; h < hc; h++) {
      if (out.headers === out.headerNameStart.length) out.growHeaders();
      const nl = span();
      const ns = spanAt;
      if (nl < 0) throw new Malformed('null header name');
      if (!validName(bytes, ns, nl, h)) {
        out.headers = h0;
        return offset;
      }
      const hl = span();
      const hs = spanAt;
      const j = out.headers++;
      out.headerNameStart[j] = ns;
      out.headerNameLength[j] = nl;
      out.headerValueStart[j] = hs;
      out.headerValueLength[j] = hl;
    }
    if (at !== recordEnd) throw new Malformed(`record at offset ${offset}: ${recordEnd - at} bytes left over`);
    end = stop;
    const ts = logAppendTime ?? baseTimestamp + tsDelta;
    out.position[i] = offset;
    out.timestamp[i] = ts < 0 ? NaN : ts;
    out.timestampType[i] = ts < 0 ? 0 : logAppendTime === null ? 1 : 2;
    out.keyStart[i] = ks;
    out.keyLength[i] = kl;
    out.valueStart[i] = vs;
    out.valueLength[i] = vl;
    out.headerStart[i] = h0;
    out.count++;
  }
  return null;
}

function readI64(dv: DataView, o: number): bigint {
  return dv.getBigInt64(o, false);
}

/** A transaction marker's type from the control record key (version i16, type i16): 0 abort. */
function isAbortMarker(bytes: Uint8Array, dv: DataView, recordsStart: number, stop: number): boolean {
  buf = bytes;
  at = recordsStart;
  end = stop;
  varint(); // length
  at++; // attributes
  varlong(); // timestamp delta
  varint(); // offset delta
  const kl = span();
  const ks = spanAt;
  return kl >= 4 && dv.getInt16(ks + 2, false) === 0;
}

/** Records in the whole batches of bytes[start, stop), from their headers. */
function recordsIn(bytes: Uint8Array, dv: DataView, start: number, stop: number): number {
  let n = 0;
  for (let p = start; stop - p >= BATCH_HEADER; ) {
    const batchEnd = p + 12 + dv.getInt32(p + 8, false);
    if (batchEnd > stop || bytes[p + 16] !== 2) break;
    n += Math.max(0, dv.getInt32(p + 57, false));
    p = batchEnd;
  }
  return n;
}

/**
 * Decodes the record batches in bytes[start, stop) (one partition's records of a Fetch
 * response). A batch cut off at the end (the broker fills the response up to its size limit)
 * is left for the next fetch. Throws on malformed data.
 */
export function decodeRecordBatches(bytes: Uint8Array, start: number, stop: number, o: DecodeOptions): DecodedBatches {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const columns: RecordColumns[] = [];
  const from = o.from;
  const to = o.to;
  if (to > BigInt(MAX_EXACT)) throw new Error(`offset ${to} is too large`);
  const fromN = Number(from);
  const toN = Number(to);
  let next = from;
  // Apache Kafka's consumer logic: aborted transactions by first offset; a producer is "aborted"
  // from its transaction's first offset until its abort marker
  const pendingAborts = [...o.aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  const abortedProducers = new Set<bigint>();
  // records of uncompressed batches all point into `bytes`: one set of columns for all of them
  let builder: ColumnsBuilder | null = null;
  const flush = () => {
    if (builder && builder.count > 0) columns.push(builder.finish(bytes));
    builder = null;
  };
  let p = start;
  try {
    while (stop - p >= 12) {
      const baseOffset = readI64(dv, p);
      const batchLength = dv.getInt32(p + 8, false);
      const batchEnd = p + 12 + batchLength;
      if (batchEnd > stop) break; // cut off: fetched again next time
      const magic = bytes[p + 16]!;
      if (magic !== 2) {
        flush();
        const at0 = baseOffset > next ? baseOffset : next;
        return { columns, next: at0, unsupported: { offset: at0, reason: `message format v${magic} (before Kafka 0.11)` } };
      }
      if (batchLength < BATCH_HEADER - 12) throw new Malformed(`batch at offset ${baseOffset}: length ${batchLength}`);
      const attributes = dv.getInt16(p + 21, false);
      const lastOffset = baseOffset + BigInt(dv.getInt32(p + 23, false));
      const baseTimestamp = Number(readI64(dv, p + 27));
      const maxTimestamp = Number(readI64(dv, p + 35));
      const producerId = readI64(dv, p + 43);
      const count = dv.getInt32(p + 57, false);
      const compression = attributes & 7;
      const transactional = (attributes & 0x10) !== 0;
      const control = (attributes & 0x20) !== 0;
      if (lastOffset < from) {
        p = batchEnd;
        continue;
      }
      let skip = control;
      if (o.readCommitted && producerId >= 0n) {
        while (pendingAborts.length > 0 && pendingAborts[0]!.firstOffset <= lastOffset) abortedProducers.add(pendingAborts.shift()!.producerId);
        if (control) {
          if (compression === 0 && count > 0 && isAbortMarker(bytes, dv, p + BATCH_HEADER, batchEnd)) abortedProducers.delete(producerId);
        } else if (transactional && abortedProducers.has(producerId)) skip = true;
      }
      if (!skip && count > 0 && baseOffset < to) {
        if (baseOffset + BigInt(count) > BigInt(MAX_EXACT)) throw new Malformed(`offset ${baseOffset} is too large`);
        const logAppendTime = (attributes & 8) !== 0 ? maxTimestamp : null;
        let recordBytes: Uint8Array = bytes;
        let rs = p + BATCH_HEADER;
        let re = batchEnd;
        let target: ColumnsBuilder;
        if (compression === 0) {
          // sized once for the records of the whole answer (they mostly share one set of columns)
          builder ??= new ColumnsBuilder(Math.max(count, recordsIn(bytes, dv, p, stop)), count * 4);
          target = builder;
        } else if (compression <= 3 || (compression === 4 && o.zstd)) {
          flush();
          const data = bytes.subarray(rs, re);
          recordBytes = compression === 1 ? gunzipSync(data) : compression === 2 ? snappyDecompress(data, MAX_BATCH) : compression === 3 ? lz4FrameDecompress(data, MAX_BATCH) : o.zstd!(data);
          rs = 0;
          re = recordBytes.length;
          target = new ColumnsBuilder(count, count * 4);
        } else {
          throw new UnsupportedCompression(CODECS[compression] ?? `codec ${compression}`, baseOffset > from ? baseOffset : from);
        }
        const stopped = readRecords(target, recordBytes, rs, re, count, Number(baseOffset), baseTimestamp, logAppendTime, fromN, toN);
        if (target !== builder && target.count > 0) columns.push(target.finish(recordBytes));
        if (stopped !== null) {
          flush();
          return { columns, next: BigInt(stopped), unsupported: { offset: BigInt(stopped), reason: 'a header name that is not UTF-8' } };
        }
      }
      next = lastOffset + 1n > next ? lastOffset + 1n : next;
      p = batchEnd;
    }
  } catch (e) {
    if (e instanceof Malformed) throw new Error(`malformed record batch: ${e.message}`);
    throw e;
  }
  flush();
  return { columns, next, unsupported: null };
}

/**
 * Where the fetch after this one starts: past the last whole batch in bytes[start, stop), or
 * `from` when there is none. Reads only batch headers, so the next fetch can be sent before the
 * records of this one are decoded; decodeRecordBatches().next is the same offset.
 */
export function nextFetchOffset(bytes: Uint8Array, start: number, stop: number, from: bigint): bigint {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let next = from;
  for (let p = start; stop - p >= 12; ) {
    const batchEnd = p + 12 + dv.getInt32(p + 8, false);
    if (batchEnd > stop || stop - p < BATCH_HEADER) break;
    if (bytes[p + 16] !== 2) break; // older formats: decodeRecordBatches stops here too
    const last = dv.getBigInt64(p, false) + BigInt(dv.getInt32(p + 23, false));
    if (last + 1n > next) next = last + 1n;
    p = batchEnd;
  }
  return next;
}
