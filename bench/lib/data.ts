// Deterministic, realistic benchmark records: JSON-ish events of about 1 KiB with keys and headers,
// compressible like real traffic (repeated field names, enumerations, ids), not random bytes.
// Written once per scale to a length-prefixed file the baseline producers read, so every tool
// publishes exactly the same bytes.
import { createWriteStream, openSync, readSync, closeSync } from 'node:fs';

export interface BenchRecord {
  key: Buffer;
  value: Buffer;
  headers: [string, Buffer][];
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TYPES = ['order.created', 'order.paid', 'order.shipped', 'cart.updated', 'user.login', 'payment.refunded'];
const COUNTRIES = ['DE', 'FR', 'US', 'GB', 'NL', 'ES', 'IT', 'PL', 'SE', 'BR', 'JP', 'IN'];
const AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'okhttp/4.12.0',
];
const WORDS = ['blue', 'large', 'cotton', 'shirt', 'wireless', 'mouse', 'organic', 'coffee', 'steel', 'bottle', 'desk', 'lamp', 'running', 'shoe', 'travel', 'bag'];
const NAMES = ['Anna', 'Ben', 'Chloé', 'David', 'Emma', 'Farid', 'Greta', 'Hiro', 'Ines', 'Jonas', 'Kofi', 'Lena'];

function hex(rand: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(rand() * 16).toString(16);
  return s;
}

/** Record i of the data set with the given seed: the same inputs always give the same bytes. */
export function makeRecord(i: number, seed = 1): BenchRecord {
  const rand = mulberry32(seed * 1_000_003 + i);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)] as T;
  const userId = Math.floor(rand() * 50_000);
  const orderId = `ord-${(1_000_000 + i).toString(36)}-${hex(rand, 6)}`;
  const nItems = 2 + Math.floor(rand() * 4);
  const items = [];
  for (let k = 0; k < nItems; k++) {
    items.push({
      sku: `SKU-${Math.floor(rand() * 90_000 + 10_000)}`,
      name: `${pick(WORDS)} ${pick(WORDS)} ${pick(WORDS)}`,
      qty: 1 + Math.floor(rand() * 5),
      unitPrice: Math.round(rand() * 20_000) / 100,
      currency: 'EUR',
    });
  }
  const name = pick(NAMES);
  const event: Record<string, unknown> = {
    eventId: `${hex(rand, 8)}-${hex(rand, 4)}-4${hex(rand, 3)}-${hex(rand, 4)}-${hex(rand, 12)}`,
    type: pick(TYPES),
    occurredAt: new Date(1_764_000_000_000 + i * 37).toISOString(),
    source: 'shop-frontend',
    schemaVersion: 3,
    orderId,
    customer: {
      id: `user-${userId}`,
      name,
      email: `${name.toLowerCase()}.${userId}@example.com`,
      country: pick(COUNTRIES),
      segment: rand() < 0.2 ? 'premium' : 'standard',
    },
    items,
    total: Math.round(items.reduce((s, it) => s + it.qty * it.unitPrice, 0) * 100) / 100,
    session: { id: hex(rand, 24), userAgent: pick(AGENTS), ip: `10.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}.${Math.floor(rand() * 255)}` },
    flags: { giftWrap: rand() < 0.1, expressShipping: rand() < 0.3, newsletter: rand() < 0.5 },
  };
  let json = JSON.stringify(event);
  // pad to about 1 KiB with a realistic free-text note (the size varies a little, like real events)
  const targetLen = 960 + Math.floor(rand() * 128);
  if (json.length < targetLen) {
    const words: string[] = [];
    let len = 0;
    while (len < targetLen - json.length - 12) {
      const w = pick(WORDS);
      words.push(w);
      len += w.length + 1;
    }
    event.note = words.join(' ');
    json = JSON.stringify(event);
  }
  return {
    key: Buffer.from(`user-${userId}`),
    value: Buffer.from(json),
    headers: [
      ['content-type', Buffer.from('application/json')],
      ['traceparent', Buffer.from(`00-${hex(rand, 32)}-${hex(rand, 16)}-01`)],
      ['event-type', Buffer.from(event.type as string)],
    ],
  };
}

export function encodeRecord(r: BenchRecord): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(6);
  head.writeUInt32LE(r.key.length, 0);
  head.writeUInt16LE(r.headers.length, 4);
  parts.push(head, r.key);
  for (const [name, val] of r.headers) {
    const n = Buffer.from(name);
    const h = Buffer.alloc(6);
    h.writeUInt16LE(n.length, 0);
    h.writeUInt32LE(val.length, 2);
    parts.push(h, n, val);
  }
  const vl = Buffer.alloc(4);
  vl.writeUInt32LE(r.value.length, 0);
  parts.push(vl, r.value);
  const body = Buffer.concat(parts);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(body.length, 0);
  return Buffer.concat([len, body]);
}

export function decodeRecord(buf: Buffer, at: number): BenchRecord {
  let p = at;
  const keyLen = buf.readUInt32LE(p);
  const nh = buf.readUInt16LE(p + 4);
  p += 6;
  const key = buf.subarray(p, p + keyLen);
  p += keyLen;
  const headers: [string, Buffer][] = [];
  for (let k = 0; k < nh; k++) {
    const nl = buf.readUInt16LE(p);
    const vl = buf.readUInt32LE(p + 2);
    p += 6;
    const name = buf.toString('utf8', p, p + nl);
    p += nl;
    headers.push([name, buf.subarray(p, p + vl)]);
    p += vl;
  }
  const valueLen = buf.readUInt32LE(p);
  p += 4;
  return { key, headers, value: buf.subarray(p, p + valueLen) };
}

/** Writes records 0..n-1 to `path`; returns the raw payload bytes (keys + values + headers). */
export async function writeDataFile(path: string, n: number, seed = 1): Promise<{ rawBytes: number; valueBytes: number }> {
  const out = createWriteStream(path);
  let rawBytes = 0;
  let valueBytes = 0;
  for (let i = 0; i < n; i++) {
    const r = makeRecord(i, seed);
    rawBytes += r.key.length + r.value.length + r.headers.reduce((s, [k, v]) => s + k.length + v.length, 0);
    valueBytes += r.value.length;
    if (!out.write(encodeRecord(r))) await new Promise<void>((res) => out.once('drain', () => res()));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  return { rawBytes, valueBytes };
}

/** Reads the data file in batches of `batch` records (synchronous reads of 8 MiB chunks). */
export function* readDataFile(path: string, batch: number): Generator<BenchRecord[]> {
  const fd = openSync(path, 'r');
  try {
    let buf = Buffer.alloc(0);
    let cur: BenchRecord[] = [];
    const chunk = Buffer.alloc(8 * 1024 * 1024);
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      buf = buf.length ? Buffer.concat([buf, chunk.subarray(0, n)]) : Buffer.from(chunk.subarray(0, n));
      let p = 0;
      while (p + 4 <= buf.length) {
        const len = buf.readUInt32LE(p);
        if (p + 4 + len > buf.length) break;
        cur.push(decodeRecord(buf, p + 4));
        p += 4 + len;
        if (cur.length >= batch) {
          yield cur;
          cur = [];
        }
      }
      buf = buf.subarray(p);
    }
    if (cur.length) yield cur;
  } finally {
    closeSync(fd);
  }
}
