/**
 * The NATS header block as bytes: "NATS/1.0\r\n", then one "Name: value\r\n" line per header,
 * then "\r\n". JetStream stores the block exactly as published, so mqbak reads and writes it
 * itself and keeps what the client libraries lose: the order of the lines (a name that repeats
 * after another name), the case of names, spaces inside values, empty values and value bytes that
 * are not UTF-8.
 *
 * One convention: a single space after the colon is the separator, not part of the value
 * ("A: 1" and "A:1" are both the value "1"; the value " 1" is written "A:  1"). A line without a
 * colon is kept as a header whose value is null and written back as the bare line.
 */
import type { RecordHeader } from '../../common/record.js';

const PREAMBLE = 'NATS/1.0';
const CR = 13;
const LF = 10;
const COLON = 58;
const SPACE = 32;

const names = new TextDecoder('utf-8', { fatal: true });
const utf8 = new TextEncoder();

export interface ParsedHeaderBlock {
  headers: RecordHeader[];
  /**
   * Text after "NATS/1.0" on the first line (a status code and description), or '' when none.
   * Stored messages normally have none; a restore cannot publish one.
   */
  status: string;
}

/**
 * Header names decoded lately, by their place in the block: the same names come back at the same
 * places from message to message, and comparing a few bytes costs less than decoding them.
 */
const recentNames: Array<{ bytes: Uint8Array; name: string } | undefined> = [];
const RECENT_PLACES = 32;

/**
 * Parses a header block, in one pass over its bytes. Values are views into `block` (no copies).
 * Throws on a block that does not start with NATS/1.0 or whose header name is not UTF-8.
 */
export function parseHeaderBlock(block: Uint8Array): ParsedHeaderBlock {
  const headers: RecordHeader[] = [];
  const firstEnd = scanHeaderBlock(block, 0, block.length, (ns, ne, vs, ve) => {
    headers.push({ name: nameAt(block, ns, ne, headers.length), value: vs < 0 ? null : block.subarray(vs, ve) });
  });
  const status = firstEnd > PREAMBLE.length ? Buffer.from(block.buffer, block.byteOffset + PREAMBLE.length, firstEnd - PREAMBLE.length).toString('latin1').trim() : '';
  return { headers, status };
}

/**
 * A header's place in a block: its name is bytes [ns, ne), its value bytes [vs, ve), or vs = -1
 * for a line without a colon.
 */
export type HeaderSpan = (ns: number, ne: number, vs: number, ve: number) => void;

/**
 * Walks the header block in bytes [start, end) of `buf`, in one pass, calling `header` for each
 * header line in order. Returns where its first line ends. Throws on a block that does not start
 * with NATS/1.0 (header names are not checked: checkHeaderName).
 */
export function scanHeaderBlock(buf: Uint8Array, start: number, end: number, header: HeaderSpan): number {
  // the block ends with an empty line; tolerate a block given without it
  if (end - start >= 2 && buf[end - 2] === CR && buf[end - 1] === LF) end -= 2;
  const firstEnd = lineEnd(buf, start, end);
  if (firstEnd - start < PREAMBLE.length) throw new Error(`header block does not start with ${PREAMBLE}`);
  for (let k = 0; k < PREAMBLE.length; k++) {
    if (buf[start + k] !== PREAMBLE.charCodeAt(k)) throw new Error(`header block does not start with ${PREAMBLE}`);
  }
  for (let s = firstEnd + 2; s < end; ) {
    const e = lineEnd(buf, s, end);
    if (e > s) {
      // the blank line that ends the block has e === s
      let colon = -1;
      for (let i = s; i < e; i++) {
        if (buf[i] === COLON) {
          colon = i;
          break;
        }
      }
      if (colon < 0) header(s, e, -1, -1);
      else {
        let v = colon + 1;
        if (v < e && buf[v] === SPACE) v++;
        header(s, colon, v, e);
      }
    }
    s = e + 2;
  }
  return firstEnd - start;
}

/** Throws when bytes [s, e) of `buf`, the name of header number `place` of its block, are not UTF-8. */
export function checkHeaderName(buf: Uint8Array, s: number, e: number, place: number): void {
  nameAt(buf, s, e, place);
}

/** Where the line starting at `s` ends: its CR LF, or `end` when it has none. */
function lineEnd(block: Uint8Array, s: number, end: number): number {
  for (let i = s; i + 1 < end; i++) if (block[i] === CR && block[i + 1] === LF) return i;
  return end;
}

/** The name in bytes [s, e) of header `place`, decoded as UTF-8 (or taken from recentNames). */
function nameAt(block: Uint8Array, s: number, e: number, place: number): string {
  const n = e - s;
  const recent = place < RECENT_PLACES ? recentNames[place] : undefined;
  if (recent !== undefined && recent.bytes.length === n) {
    let same = true;
    for (let k = 0; k < n; k++) {
      if (recent.bytes[k] !== block[s + k]) {
        same = false;
        break;
      }
    }
    if (same) return recent.name;
  }
  const name = names.decode(block.subarray(s, e));
  if (place < RECENT_PLACES) recentNames[place] = { bytes: block.slice(s, e), name };
  return name;
}

/** Why a header cannot be written, or undefined when it can. */
export function unwritableHeader(h: RecordHeader): string | undefined {
  if (h.name === '') return 'an empty header name';
  for (let i = 0; i < h.name.length; i++) {
    const c = h.name.charCodeAt(i);
    if (c === CR || c === LF) return `header name ${JSON.stringify(h.name)} holds a line break`;
    if (c === COLON && h.value !== null) return `header name ${JSON.stringify(h.name)} holds a colon`;
  }
  if (h.value) {
    for (let i = 0; i < h.value.length; i++) {
      if (h.value[i] === CR || h.value[i] === LF) return `the value of header ${JSON.stringify(h.name)} holds a line break`;
    }
  }
  return undefined;
}

/**
 * The header block for `headers`. Throws on a header unwritableHeader refuses. Returns undefined
 * when there is nothing to write: the message goes without a header block.
 */
export function encodeHeaderBlock(headers: readonly RecordHeader[]): Uint8Array | undefined {
  if (headers.length === 0) return undefined;
  const all = headers;
  const encodedNames: Uint8Array[] = [];
  let size = PREAMBLE.length + 2 + 2;
  for (const h of all) {
    const bad = unwritableHeader(h);
    if (bad) throw new Error(`cannot publish ${bad}`);
    const n = utf8.encode(h.name);
    encodedNames.push(n);
    size += n.length + 2 + (h.value === null ? 0 : 2 + h.value.length);
  }
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < PREAMBLE.length; i++) out[o++] = PREAMBLE.charCodeAt(i);
  out[o++] = CR;
  out[o++] = LF;
  all.forEach((h, i) => {
    out.set(encodedNames[i]!, o);
    o += encodedNames[i]!.length;
    if (h.value !== null) {
      out[o++] = COLON;
      out[o++] = SPACE;
      out.set(h.value, o);
      o += h.value.length;
    }
    out[o++] = CR;
    out[o++] = LF;
  });
  out[o++] = CR;
  out[o++] = LF;
  return out;
}
