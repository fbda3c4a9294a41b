/**
 * How `restore --check` reads a RabbitMQ restore back (docs/RABBITMQ.md): the target queues
 * through the backup source, stream queues by offset over what the restore mapped, classic and
 * quorum queues by a mirror read (every message delivered and returned: RabbitMQ then marks them
 * redelivered, and a quorum queue counts the delivery). Compared: the body, the timestamp and the
 * basic properties with their headers, as the restore sent them: broker-owned headers under their
 * x-mqbak-original- names, without array and table headers on a stream queue. Not compared: the
 * exchange, routing key and redelivered flag (the restore publishes to the queue), user-id and
 * cluster-id (a restore may drop them), and broker-owned headers the target adds. On a quorum
 * queue the headers are compared by name: it reorders them when it returns a message.
 */
import type { AdapterContext, AdapterOptionValues, CheckedRecord, ReadBack, SinkPlan, StreamAddress } from '../adapter.js';
import type { ArchiveRecord, JsonValue } from '../../common/record.js';
import { addressOf } from './address.js';
import { amqpMetaOf, amqpToAttributes } from './amqp-json.js';
import type { AmqpProperties } from './amqp-types.js';
import { BROKER_OWNED_HEADERS, renameBrokerHeaders } from './publisher.js';

export function rabbitReadBack(plan: SinkPlan, options: AdapterOptionValues, _env: AdapterContext['env']): ReadBack {
  const queues = [...new Set(plan.targets.map((t) => addressOf(t.target).queue))];
  return {
    sourceOptions: { managementUrl: options.managementUrl, queues, mode: 'mirror' },
    checked(r: ArchiveRecord, side: 'archive' | 'target', target: StreamAddress): CheckedRecord {
      const meta = amqpMetaOf(r);
      const { userId: _u, clusterId: _c, ...props } = meta.properties;
      const type = addressOf(target).queueType;
      let headers = props.headers ?? [];
      if (side === 'archive') {
        headers = renameBrokerHeaders(headers).headers;
        if (type === 'stream') headers = headers.filter((h) => h.value.type !== 'array' && h.value.type !== 'table');
      } else {
        headers = headers.filter((h) => !BROKER_OWNED_HEADERS.test(h.name));
      }
      // a quorum queue that adds x-delivery-count to a returned message writes its headers sorted by name (3.10, measured)
      if (type === 'quorum') headers = [...headers].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0));
      const kept: AmqpProperties = { ...props };
      // no headers and an empty table read the same to a consumer
      if (headers.length > 0) kept.headers = headers;
      else delete kept.headers;
      const attributes = amqpToAttributes({ exchange: '', routingKey: '', redelivered: false, properties: kept }) as { properties: JsonValue };
      return { key: r.key, value: r.value, timestamp: r.timestamp, attributes: attributes.properties };
    },
  };
}
