/**
 * What mqbak's own Produce and Fetch paths (batch-producer.ts, fetcher.ts) take from kafkajs 2.2:
 * its cluster (bootstrap, TLS, SASL, ApiVersions, metadata, connections) and a broker's request
 * sender, reached through private symbols. openCluster() returns InternalsMissing when they are
 * not what this code expects; callers then fall back to kafkajs' public producer or consumer.
 */
import { createRequire } from 'node:module';
import type { Kafka } from 'kafkajs';
import { messageOf } from '../../common/errors.js';

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
  /**
   * Bytes to leave at the start of a request for sendFrame to write the frame's size and request
   * header into; null when sendFrame cannot be used.
   */
  frameHeaderSize: number | null;
  /**
   * Sends a request the caller encoded whole: `frame` starts with frameHeaderSize bytes left for
   * the size and request header, which this writes, then holds the request body. kafkajs' own
   * send copies a body twice, each time into a new zero-filled buffer of twice its size. Resolves
   * with the response's parse() result, or with null, having sent nothing, when the broker's
   * connection is not what this code expects (then use send).
   */
  sendFrame(broker: KjsBroker, protocol: KjsProtocol, frame: Buffer): Promise<{ result: unknown } | null>;
}

/** What sendFrame uses of a kafkajs 2.2 Connection. */
interface KjsConnection {
  clientId: string | null;
  sasl: unknown;
  socket: { write(b: Buffer, encoding: string): unknown } | null;
  requestQueue: {
    push(r: { entry: Record<string, unknown>; expectResponse: boolean; requestTimeout: number | null; sendRequest: () => void }): void;
    maybeThrottle(ms: unknown): void;
  };
  isConnected(): boolean;
  isAuthenticated(): boolean;
  nextCorrelationId(): number;
}

function connectionPoolOf(broker: KjsBroker): { getConnectionByRequest(p: KjsProtocol): Promise<KjsConnection> } | null {
  const pool = (broker as unknown as { connectionPool?: { getConnectionByRequest?: unknown } }).connectionPool;
  return pool && typeof pool.getConnectionByRequest === 'function' ? (pool as { getConnectionByRequest(p: KjsProtocol): Promise<KjsConnection> }) : null;
}

/** The connections of a broker's pool (kafkajs opens them as requests need them); none when it has no pool. */
export function connectionsOf(broker: KjsBroker): readonly unknown[] {
  const pool = (broker as unknown as { connectionPool?: { pool?: unknown } }).connectionPool?.pool;
  return Array.isArray(pool) ? pool : [];
}

function usableConnection(c: KjsConnection | null | undefined, clientId: string | null): c is KjsConnection {
  return (
    !!c &&
    c.clientId === clientId &&
    !!c.socket &&
    typeof c.socket.write === 'function' &&
    typeof c.requestQueue?.push === 'function' &&
    typeof c.requestQueue.maybeThrottle === 'function' &&
    typeof c.isConnected === 'function' &&
    typeof c.isAuthenticated === 'function' &&
    typeof c.nextCorrelationId === 'function' &&
    c.isConnected() &&
    // without SASL kafkajs never marks a connection authenticated, and needs not
    (!c.sasl || c.isAuthenticated())
  );
}

function symbolNamed(o: object, description: string): symbol | undefined {
  for (let p: object | null = o; p; p = Object.getPrototypeOf(p) as object | null) {
    const s = Object.getOwnPropertySymbols(p).find((x) => x.description === description);
    if (s) return s;
  }
  return undefined;
}

/**
 * The kafkajs internals mqbak uses, by the names MQBAK_KAFKA_HIDE_INTERNALS takes: its modules
 * and the private symbols of a client and a broker.
 */
const MODULES = {
  requests: 'kafkajs/src/protocol/requests',
  apiKeys: 'kafkajs/src/protocol/requests/apiKeys',
  error: 'kafkajs/src/protocol/error',
} as const;
const SYMBOLS = { createCluster: 'private:Kafka:createCluster', sendRequest: 'private:Broker:sendRequest' } as const;
export type InternalName = keyof typeof MODULES | keyof typeof SYMBOLS;

/**
 * For tests only: MQBAK_KAFKA_HIDE_INTERNALS=error,createCluster (or `all`) makes mqbak act as if
 * those internals of kafkajs were missing, as with a kafkajs other than 2.2, so that the
 * fallbacks to kafkajs' consumer and producer are exercised (test/e2e/kafka-internals.test.ts).
 * Read here and nowhere else.
 */
function hidden(name: InternalName): boolean {
  const list = (process.env.MQBAK_KAFKA_HIDE_INTERNALS ?? '').split(',').map((x) => x.trim());
  return list.includes('all') || list.includes(name);
}

/** What a fallback says: which internal of kafkajs is missing or not as expected. */
export class InternalsMissing {
  constructor(readonly reason: string) {}
}

/** One of kafkajs' internal modules, or InternalsMissing when it cannot be loaded. */
export function kafkajsModule<T>(name: keyof typeof MODULES): T | InternalsMissing {
  if (hidden(name)) return new InternalsMissing(`kafkajs' ${MODULES[name]} is missing`);
  try {
    return createRequire(import.meta.url)(MODULES[name]) as T;
  } catch (e) {
    return new InternalsMissing(`kafkajs' ${MODULES[name]} cannot be loaded (${messageOf(e)})`);
  }
}

function privateSymbol(o: object, name: keyof typeof SYMBOLS): symbol | undefined {
  return hidden(name) ? undefined : symbolNamed(o, SYMBOLS[name]);
}

/**
 * A new, connected cluster of the client's (its own connections, any number of requests in
 * flight), or InternalsMissing when this kafkajs is not the one this code was written against.
 */
export async function openCluster(kafka: Kafka): Promise<Internals | InternalsMissing> {
  const requestsModule = kafkajsModule<{ requests?: KjsRequests }>('requests');
  if (requestsModule instanceof InternalsMissing) return requestsModule;
  const apiKeys = kafkajsModule<{ Produce: number; Fetch: number }>('apiKeys');
  if (apiKeys instanceof InternalsMissing) return apiKeys;
  const requests = requestsModule.requests;
  if (typeof apiKeys.Produce !== 'number' || typeof apiKeys.Fetch !== 'number' || !requests?.Produce || typeof requests.Fetch?.protocol !== 'function') {
    return new InternalsMissing("kafkajs' request table is not that of kafkajs 2.2");
  }
  const factoryKey = privateSymbol(kafka, 'createCluster');
  const factory = factoryKey && (kafka as unknown as Record<symbol, unknown>)[factoryKey];
  if (typeof factory !== 'function') return new InternalsMissing("kafkajs' client has no private createCluster");
  const cluster = (factory as (o: Record<string, unknown>) => KjsCluster)({ allowAutoTopicCreation: false, maxInFlightRequests: null });
  await cluster.connect();
  let sendKey: symbol | undefined;
  let controller: KjsBroker;
  try {
    await cluster.refreshMetadata();
    controller = await cluster.findControllerBroker();
    sendKey = privateSymbol(controller, 'sendRequest');
  } catch (e) {
    await cluster.disconnect().catch(() => {});
    throw e;
  }
  if (!sendKey) {
    await cluster.disconnect().catch(() => {});
    return new InternalsMissing("kafkajs' broker has no private sendRequest");
  }
  const key = sendKey;
  const knownTopics = new Set<string>();
  const leaderId = (topic: string, partition: number): string | undefined => {
    const leaders = cluster.findLeaderForPartitions(topic, [partition]);
    return Object.keys(leaders).find((n) => leaders[n]!.includes(partition));
  };
  // the client id every request header carries, read off a connection of the client's
  let clientId: string | null = null;
  let frameHeaderSize: number | null = null;
  const probe = (connectionPoolOf(controller) as unknown as { pool?: KjsConnection[] } | null)?.pool?.[0];
  if (probe && (typeof probe.clientId === 'string' || probe.clientId === null)) {
    clientId = probe.clientId;
    frameHeaderSize = 4 + 2 + 2 + 4 + 2 + (clientId === null ? 0 : Buffer.byteLength(clientId));
  }
  const send = (broker: KjsBroker, protocol: KjsProtocol) => (broker as unknown as Record<symbol, (p: KjsProtocol) => Promise<unknown>>)[key]!.call(broker, protocol);
  return {
    cluster,
    requests,
    apiKeys,
    frameHeaderSize,
    async sendFrame(broker, protocol, frame) {
      const pool = connectionPoolOf(broker);
      if (frameHeaderSize === null || !pool) return null;
      const c = await pool.getConnectionByRequest(protocol);
      if (!usableConnection(c, clientId)) return null;
      const { apiKey, apiVersion, apiName } = protocol.request;
      try {
        const answer = await new Promise<{ payload: Buffer }>((resolve, reject) => {
          // what kafkajs' Connection.send does, with the frame written in place
          const correlationId = c.nextCorrelationId();
          let o = frame.writeInt32BE(frame.length - 4, 0);
          o = frame.writeInt16BE(apiKey, o);
          o = frame.writeInt16BE(apiVersion, o);
          o = frame.writeInt32BE(correlationId, o);
          if (clientId === null) frame.writeInt16BE(-1, o);
          else frame.write(clientId, frame.writeInt16BE(Buffer.byteLength(clientId), o), 'utf8');
          const socket = c.socket!;
          c.requestQueue.push({
            entry: { apiKey, apiName, apiVersion, correlationId, resolve, reject },
            expectResponse: true,
            requestTimeout: protocol.requestTimeout ?? null,
            sendRequest: () => socket.write(frame, 'binary'),
          });
        });
        const decoded = (await protocol.response.decode(answer.payload)) as { clientSideThrottleTime?: unknown };
        c.requestQueue.maybeThrottle(decoded.clientSideThrottleTime);
        return { result: await protocol.response.parse(decoded) };
      } catch (e) {
        // as the broker's own send does: a closed connection is dropped, to be opened anew
        if ((e as { name?: unknown }).name === 'KafkaJSConnectionClosedError') await (broker as unknown as { disconnect(): Promise<void> }).disconnect().catch(() => {});
        throw e;
      }
    },
    send,
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
