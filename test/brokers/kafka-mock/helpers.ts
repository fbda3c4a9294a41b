/**
 * Helpers of the Kafka test broker's own tests (test/brokers/kafka-mock/*.test.ts): a kafkajs
 * client, waiting, kafkajs' errors as records, and a few raw requests for what kafkajs hides.
 */
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

// the raw request codec is shared with the fault tests
import { Writer, Reader, rawRequest } from '../../helpers/kafka-wire.js';
export { Writer, Reader, rawRequest };

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

