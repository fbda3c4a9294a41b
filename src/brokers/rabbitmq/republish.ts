/**
 * What a restore changes in an archived message before publishing it, and why: broker-owned
 * headers are renamed (copied back they would mislead consumers), so are the CC and BCC headers
 * when publishing to the target queue (the broker would route copies to the queues they name;
 * --via-exchange keeps them, leaving the routing to the broker), a user-id other than the
 * connecting user is dropped (RabbitMQ refuses it), and a stream-queue target refuses decimal
 * headers (measured on 3.10: the broker closes the whole connection) and drops array and table
 * headers. Counts what it did, for the restore's warnings.
 */
import type { Options } from 'amqplib';
import type { AmqpMessageMeta, AmqpProperties, AmqpValue } from './amqp-types.js';
import { BROKER_OWNED_HEADERS, publishOptions, renameHeaders, ROUTING_HEADERS } from './publisher.js';

/** Per restore: what was changed in how many messages. */
export interface RepublishCounts {
  headersRenamed: number;
  /** Messages whose CC or BCC header was renamed (not with --via-exchange). */
  routingHeadersRenamed: number;
  userIdDropped: number;
}

export function newRepublishCounts(): RepublishCounts {
  return { headersRenamed: 0, routingHeadersRenamed: 0, userIdDropped: 0 };
}

/** Per target queue: what was dropped or could not be said. */
export interface QueueNotes {
  problems: Set<string>;
  clusterIdDropped: number;
  droppedByStream: number;
}

export interface Republish {
  exchange: string;
  routingKey: string;
  options: Options.Publish;
}

export interface RepublishRules {
  /** The user the target connection logs in as. */
  user: string;
  targetQueue: string;
  viaExchange: boolean;
  streamTarget: boolean;
  /** Whether this amqplib connection can send cluster-id (connection.ts, publishExtrasSupported). */
  extrasSupported: boolean;
}

/** How to publish `meta` under `rules`, or the reason it cannot be sent. */
export function republish(meta: AmqpMessageMeta, rules: RepublishRules, counts: RepublishCounts, notes: QueueNotes): Republish | { refused: string } {
  const props: AmqpProperties = { ...meta.properties };
  // most messages have neither broker-owned nor routing headers: no copies of their list then
  if (props.headers && props.headers.some((h) => BROKER_OWNED_HEADERS.test(h.name) || ROUTING_HEADERS.test(h.name))) {
    const r = renameHeaders(props.headers, BROKER_OWNED_HEADERS);
    if (r.renamed.length > 0) counts.headersRenamed++;
    props.headers = r.headers;
    if (!rules.viaExchange) {
      const cc = renameHeaders(props.headers, ROUTING_HEADERS);
      if (cc.renamed.length > 0) counts.routingHeadersRenamed++;
      props.headers = cc.headers;
    }
  }
  if (props.headers) {
    if (rules.streamTarget) {
      if (props.headers.some((h) => containsDecimal(h.value))) {
        return { refused: 'not sent: RabbitMQ stream queues cannot store decimal headers (the broker closes the connection)' };
      }
      if (props.headers.some((h) => h.value.type === 'array' || h.value.type === 'table')) notes.droppedByStream++;
    }
  }
  if (props.userId !== undefined && props.userId !== rules.user) {
    delete props.userId;
    counts.userIdDropped++;
  }
  if (props.clusterId !== undefined && !rules.extrasSupported) notes.clusterIdDropped++;
  const list: string[] = [];
  const options = publishOptions(props, list);
  for (const p of list) notes.problems.add(p);
  if (rules.viaExchange && meta.exchange !== '') return { exchange: meta.exchange, routingKey: meta.routingKey, options };
  return { exchange: '', routingKey: rules.targetQueue, options };
}

/** The warnings of one target queue, once it is written. */
export function queueWarnings(source: string, target: string, notes: QueueNotes): string[] {
  const out = [...notes.problems].map((p) => `queue ${source}: ${p}`);
  if (notes.droppedByStream > 0) {
    out.push(`queue ${source}: ${notes.droppedByStream} message(s) have array or table headers, which the stream queue ${target} does not keep`);
  }
  if (notes.clusterIdDropped > 0) {
    out.push(`queue ${source}: ${notes.clusterIdDropped} message(s) had the deprecated cluster-id property, which amqplib cannot send: left out`);
  }
  return out;
}

function containsDecimal(v: AmqpValue): boolean {
  if (v.type === 'decimal') return true;
  if (v.type === 'array') return v.value.some(containsDecimal);
  if (v.type === 'table') return v.value.some((f) => containsDecimal(f.value));
  return false;
}
