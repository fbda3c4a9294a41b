/**
 * Where a Kafka stream lives: one partition of one topic. Stored in the manifest as
 * {topic, partition}; archive streams are named kafka/<topic>/<partition>.
 */
import type { StreamAddress } from '../adapter.js';
import { MqbakError } from '../../common/errors.js';

export interface KafkaAddress {
  topic: string;
  partition: number;
}

export function kafkaAddress(topic: string, partition: number): KafkaAddress & StreamAddress {
  return { topic, partition };
}

/** The address read back from a manifest: anything else is an archive this adapter did not write. */
export function asKafkaAddress(a: StreamAddress): KafkaAddress {
  const { topic, partition } = a;
  if (typeof topic !== 'string' || typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0) {
    throw new MqbakError('integrity', `not a Kafka stream address: ${JSON.stringify(a)}`);
  }
  return { topic, partition };
}

export function streamName(topic: string, partition: number): string {
  return `kafka/${topic}/${partition}`;
}

/** For people: orders[0]. */
export function describeAddress(a: StreamAddress): string {
  const k = asKafkaAddress(a);
  return `${k.topic}[${k.partition}]`;
}
