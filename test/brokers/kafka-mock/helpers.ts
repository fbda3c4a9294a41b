/**
 * Helpers of the Kafka test broker's own tests (test/brokers/kafka-mock/*.test.ts): a kafkajs
 * client, waiting, kafkajs' errors as records, and a few raw requests for what kafkajs hides.
 */
import net from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import type { Admin } from 'kafkajs';
import { kafkaBrokers } from '../../helpers/brokers.js';

export const CONFIG_SOURCE_TOPIC = 1; // DYNAMIC_TOPIC_CONFIG
export const CONFIG_SOURCE_DEFAULT = 5; // DEFAULT_CONFIG
export const RESOURCE_TOPIC = 2;

export function kafka(clientId: string): Kafka {
  return new Kafka({ brokers: kafkaBrokers(), clientId, logLevel: logLevel.NOTHING });
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The error kafkajs throws, as a record (its error classes are not exported under ESM). */
export async function rejection(p: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await p;
  } catch (e) {
    return e as Record<string, unknown>;
  }
  throw new Error('expected a rejection');
}

// ---- a few raw Kafka requests (non-flexible versions), for what kafkajs does not show ----

export class Writer {
  private parts: Buffer[] = [];
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

/** host:port of broker `nodeId`, from kafkajs' view of the cluster. */
export async function brokerAddress(admin: Admin, nodeId: number): Promise<string> {
  const { brokers } = await admin.describeCluster();
  const b = brokers.find((x) => x.nodeId === nodeId);
  if (!b) throw new Error(`broker ${nodeId} not in the cluster metadata`);
  return `${b.host}:${b.port}`;
}

/** FindCoordinator v0 for a group: the coordinator's host:port. */
export async function groupCoordinator(groupId: string): Promise<string> {
  const bootstrap = kafkaBrokers()[0] ?? '';
  const r = await rawRequest(bootstrap, 10, 0, new Writer().str(groupId).buf());
  const err = r.i16();
  if (err !== 0) throw new Error(`FindCoordinator error ${err}`);
  r.i32();
  const host = r.str();
  return `${host}:${r.i32()}`;
}

/** OffsetCommit v2 as an admin tool sends it: generation -1, no member id. Returns error codes. */
export async function simpleOffsetCommit(
  groupId: string,
  topic: string,
  offsets: Array<{ partition: number; offset: bigint }>,
): Promise<number[]> {
  const w = new Writer().str(groupId).i32(-1).str('').i64(-1n).i32(1).str(topic).i32(offsets.length);
  for (const o of offsets) w.i32(o.partition).i64(o.offset).str(null);
  const r = await rawRequest(await groupCoordinator(groupId), 8, 2, w.buf());
  const codes: number[] = [];
  for (let t = r.i32(); t > 0; t--) {
    r.str();
    for (let p = r.i32(); p > 0; p--) {
      r.i32();
      codes.push(r.i16());
    }
  }
  return codes;
}

/** ListOffsets v1 for one partition: what the broker itself answers (no client-side mapping). */
export async function listOffsetV1(
  admin: Admin,
  topic: string,
  partition: number,
  timestamp: bigint,
): Promise<{ error: number; timestamp: bigint; offset: bigint }> {
  const meta = await admin.fetchTopicMetadata({ topics: [topic] });
  const leader = meta.topics[0]?.partitions.find((p) => p.partitionId === partition)?.leader;
  if (leader === undefined) throw new Error(`no leader for ${topic}[${partition}]`);
  const body = new Writer().i32(-1).i32(1).str(topic).i32(1).i32(partition).i64(timestamp).buf();
  const r = await rawRequest(await brokerAddress(admin, leader), 2, 1, body);
  r.i32(); // topics
  r.str();
  r.i32(); // partitions
  r.i32();
  return { error: r.i16(), timestamp: r.i64(), offset: r.i64() };
}

