/**
 * What mqbak's own Produce and Fetch paths (batch-producer.ts, fetcher.ts) take from kafkajs 2.2:
 * its cluster (bootstrap, TLS, SASL, ApiVersions, metadata, connections) and a broker's request
 * sender, reached through private symbols. openCluster() returns null when they are not what
 * this code expects; callers then fall back to kafkajs' public producer or consumer.
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';

export interface KjsRequest {
  apiKey: number;
  apiVersion: number;
  apiName: string;
  expectResponse?: () => boolean;
  encode: () => Promise<unknown>;
}
export interface KjsProtocol {
  request: KjsRequest;
  response: { decode: (payload: Buffer) => Promise<unknown>; parse: (decoded: unknown) => Promise<unknown> };
  requestTimeout?: number;
}
export interface KjsBroker {
  versions: Record<number, { minVersion: number; maxVersion: number }> | null;
  lookupRequest(apiKey: number, request: unknown): (args: Record<string, unknown>) => KjsProtocol;
  initProducerId(args: { transactionalId?: string; transactionTimeout: number }): Promise<{ producerId: string; producerEpoch: number }>;
}
export interface KjsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(args: { nodeId: string }): Promise<KjsBroker>;
  findControllerBroker(): Promise<KjsBroker>;
}
export interface KjsRequests {
  Produce: unknown;
  Fetch: { protocol: (o: { version: number }) => (args: Record<string, unknown>) => KjsProtocol };
}

export interface Internals {
  cluster: KjsCluster;
  requests: KjsRequests;
  apiKeys: { Produce: number; Fetch: number };
  /** The private send of a broker: a protocol object in, the response's parse() result out. */
  send(broker: KjsBroker, protocol: KjsProtocol): Promise<unknown>;
  /** The broker leading the partition, from the cluster's metadata (refreshed when it has none). */
  leader(topic: string, partition: number): Promise<KjsBroker>;
}

function symbolNamed(o: object, description: string): symbol | undefined {
  for (let p: object | null = o; p; p = Object.getPrototypeOf(p) as object | null) {
    const s = Object.getOwnPropertySymbols(p).find((x) => x.description === description);
    if (s) return s;
  }
  return undefined;
}

/**
 * A new, connected cluster of the client's (its own connections, any number of requests in
 * flight), or null when this kafkajs is not the one this code was written against.
 */
export async function openCluster(kafka: Kafka): Promise<Internals | null> {
  const require = createRequire(import.meta.url);
  let requests: KjsRequests;
  let apiKeys: { Produce: number; Fetch: number };
  try {
    requests = (require('kafkajs/src/protocol/requests') as { requests: KjsRequests }).requests;
    apiKeys = require('kafkajs/src/protocol/requests/apiKeys') as { Produce: number; Fetch: number };
  } catch {
    return null;
  }
  const factoryKey = symbolNamed(kafka, 'private:Kafka:createCluster');
  if (!factoryKey || typeof apiKeys.Produce !== 'number' || typeof apiKeys.Fetch !== 'number' || !requests?.Produce || typeof requests.Fetch?.protocol !== 'function') return null;
  const factory = (kafka as unknown as Record<symbol, unknown>)[factoryKey];
  if (typeof factory !== 'function') return null;
  const cluster = (factory as (o: Record<string, unknown>) => KjsCluster)({ allowAutoTopicCreation: false, maxInFlightRequests: null });
  await cluster.connect();
  let sendKey: symbol | undefined;
  try {
    await cluster.refreshMetadata();
    sendKey = symbolNamed(await cluster.findControllerBroker(), 'private:Broker:sendRequest');
  } catch (e) {
    await cluster.disconnect().catch(() => {});
    throw e;
  }
  if (!sendKey) {
    await cluster.disconnect().catch(() => {});
    return null;
  }
  const key = sendKey;
  const knownTopics = new Set<string>();
  const leaderId = (topic: string, partition: number): string | undefined => {
    const leaders = cluster.findLeaderForPartitions(topic, [partition]);
    return Object.keys(leaders).find((n) => leaders[n]!.includes(partition));
  };
  return {
    cluster,
    requests,
    apiKeys,
    send: (broker, protocol) => (broker as unknown as Record<symbol, (p: KjsProtocol) => Promise<unknown>>)[key]!.call(broker, protocol),
    async leader(topic, partition) {
      if (!knownTopics.has(topic)) {
        await cluster.addTargetTopic(topic);
        knownTopics.add(topic);
      }
      let nodeId: string | undefined;
      try {
        nodeId = leaderId(topic, partition);
      } catch {
        nodeId = undefined;
      }
      if (nodeId === undefined) {
        // a topic created a moment ago, or a leader that moved: metadata may not know it yet
        await cluster.refreshMetadata();
        nodeId = leaderId(topic, partition);
        if (nodeId === undefined) throw Object.assign(new Error(`no leader known for ${topic}[${partition}]`), { retriable: true });
      }
      return cluster.findBroker({ nodeId });
    },
  };
}

export function isRetriable(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { retriable?: unknown }).retriable === true;
}

/** The error and what caused it (kafkajs wraps the last error of its retries in another). */
function causes(e: unknown): unknown[] {
  const out: unknown[] = [];
  for (let x = e; typeof x === 'object' && x !== null && out.length < 8; x = (x as { cause?: unknown }).cause) out.push(x);
  return out;
}

/** Whether the error says the broker is gone (exit 5) rather than that it refused something (exit 3). */
export function isBrokerGone(e: unknown): boolean {
  return causes(e).some((x) => /Connection|Timeout|BrokerNotFound|LockTimeout/.test(String((x as { name?: unknown }).name)));
}

export function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
