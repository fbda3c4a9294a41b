/**
 * How `restore --check` reads a Kafka restore back: the target topics through the backup source
 * (mqbak's Fetch reader), over the offsets the restore mapped. Key, value and headers must be
 * equal; the timestamp too, except where the target gives its own: a record archived without one
 * (the restore sent the time of the restore) or a target partition that stamps LogAppendTime
 * (message.timestamp.type). The timestamp type itself is not compared: a restore writes
 * CreateTime. Through kafkajs' producer (MQBAK_KAFKA_PRODUCER=kafkajs) a null header value becomes
 * empty and headers of one name are sent together: the archived side is compared so.
 */
import type { AdapterContext, AdapterOptionValues, CheckedRecord, ReadBack, SinkPlan } from '../adapter.js';
import type { ArchiveRecord, RecordHeader } from '../../common/record.js';
import { MqbakError } from '../../common/errors.js';
import { asKafkaAddress } from './address.js';
import { producerKind } from './options.js';

const EMPTY = new Uint8Array(0);

export function kafkaReadBack(plan: SinkPlan, options: AdapterOptionValues, env: AdapterContext['env']): ReadBack {
  if (options.repartition) throw new MqbakError('usage', '--check cannot read back a restore with --repartition', { hint: 'check the restore with the offset map (--offset-map) instead' });
  const topics = [...new Set(plan.targets.map((t) => asKafkaAddress(t.target).topic))];
  const viaKafkajs = producerKind(env) === 'kafkajs';
  return {
    sourceOptions: { ...options, streams: undefined, topicRegex: undefined, topics },
    checked(r: ArchiveRecord, side: 'archive' | 'target'): CheckedRecord {
      const own = side === 'archive' ? r.timestamp === null : r.timestampType === 'log-append';
      return {
        key: r.key,
        value: r.value,
        headers: side === 'archive' && viaKafkajs ? asKafkajsSends(r.headers) : r.headers,
        ...(own ? {} : { timestamp: r.timestamp }),
      };
    },
  };
}

/** Headers as kafkajs' producer sends them: grouped by name in order of first appearance, null as empty. */
function asKafkajsSends(headers: readonly RecordHeader[]): RecordHeader[] {
  const byName = new Map<string, RecordHeader[]>();
  for (const h of headers) {
    const v = { name: h.name, value: h.value ?? EMPTY };
    const list = byName.get(h.name);
    if (list) list.push(v);
    else byName.set(h.name, [v]);
  }
  return [...byName.values()].flat();
}
