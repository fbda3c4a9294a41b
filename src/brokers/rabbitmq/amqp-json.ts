/**
 * A RabbitMQ message's AmqpMessageMeta as the record's attributes, the JSON value the archive
 * stores as canonical JSON (docs/FORMAT.md, "Attributes part"; docs/RABBITMQ.md), and back.
 * float/double values that JSON cannot hold (NaN, ±Infinity, -0) are the strings "NaN",
 * "Infinity", "-Infinity", "-0". Archives written before attributes existed hold the same bytes.
 */
import { MqbakError, messageOf } from '../../common/errors.js';
import type { ArchiveRecord, JsonValue } from '../../common/record.js';
import type { AmqpField, AmqpMessageMeta, AmqpValue } from './amqp-types.js';

/** The attributes of a record holding `meta`. Shares `meta`'s objects where nothing changes. */
export function amqpToAttributes(meta: AmqpMessageMeta): JsonValue {
  return mapFloats(meta, encodeFloat) as unknown as JsonValue;
}

/** The AmqpMessageMeta stored as `attributes`; throws an Error saying what is wrong with them. */
export function amqpFromAttributes(attributes: JsonValue): AmqpMessageMeta {
  if (typeof attributes !== 'object' || attributes === null || Array.isArray(attributes)) throw new Error('not an object');
  const m = attributes as Record<string, unknown>;
  if (typeof m.exchange !== 'string' || typeof m.routingKey !== 'string' || typeof m.redelivered !== 'boolean' || typeof m.properties !== 'object' || m.properties === null) {
    throw new Error('exchange, routingKey, redelivered or properties missing');
  }
  return mapFloats(m as unknown as AmqpMessageMeta, decodeFloat);
}

/** The AMQP side of a record read from RabbitMQ or from a RabbitMQ backup; 'integrity' when absent or malformed. */
export function amqpMetaOf(record: ArchiveRecord): AmqpMessageMeta {
  return amqpMetaOfAttributes(record.position, () => record.attributes);
}

/** amqpMetaOf for the record at `position` whose attributes `attributes()` gives (it may throw: a parse). */
export function amqpMetaOfAttributes(position: bigint, attributes: () => JsonValue | null): AmqpMessageMeta {
  try {
    const a = attributes();
    if (a === null) throw new MqbakError('integrity', `record ${position} has no AMQP properties`);
    return amqpFromAttributes(a);
  } catch (e) {
    if (e instanceof MqbakError) throw e;
    throw new MqbakError('integrity', `record ${position}: AMQP properties: ${messageOf(e)}`);
  }
}

function encodeFloat(v: unknown): unknown {
  if (typeof v !== 'number') return v;
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return 'Infinity';
  if (v === -Infinity) return '-Infinity';
  if (Object.is(v, -0)) return '-0';
  return v;
}

function decodeFloat(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  switch (v) {
    case 'NaN':
      return NaN;
    case 'Infinity':
      return Infinity;
    case '-Infinity':
      return -Infinity;
    case '-0':
      return -0;
    default:
      throw new Error(`bad float ${JSON.stringify(v)}`);
  }
}

// Each map returns its input itself when no float changes: a drained message's meta goes through
// here once on the way into the archive, and most have no float at all.
function mapFloats(meta: AmqpMessageMeta, f: (v: unknown) => unknown): AmqpMessageMeta {
  const headers = meta.properties.headers;
  if (headers === undefined) return meta;
  const mapped = mapFields(headers, f);
  return mapped === headers ? meta : { ...meta, properties: { ...meta.properties, headers: mapped } };
}

function mapFields(fields: AmqpField[], f: (v: unknown) => unknown): AmqpField[] {
  let out: AmqpField[] | null = null;
  for (let i = 0; i < fields.length; i++) {
    const x = fields[i]!;
    const v = mapValue(x.value, f);
    if (v !== x.value && out === null) out = fields.slice(0, i);
    if (out !== null) out.push(v === x.value ? x : { name: x.name, value: v });
  }
  return out ?? fields;
}

function mapValue(v: AmqpValue, f: (v: unknown) => unknown): AmqpValue {
  switch (v.type) {
    case 'float':
    case 'double': {
      const m = f(v.value);
      return Object.is(m, v.value) ? v : { type: v.type, value: m as number };
    }
    case 'table': {
      const m = mapFields(v.value, f);
      return m === v.value ? v : { type: 'table', value: m };
    }
    case 'array': {
      let out: AmqpValue[] | null = null;
      for (let i = 0; i < v.value.length; i++) {
        const x = v.value[i]!;
        const m = mapValue(x, f);
        if (m !== x && out === null) out = v.value.slice(0, i);
        if (out !== null) out.push(m);
      }
      return out === null ? v : { type: 'array', value: out };
    }
    default:
      return v;
  }
}
