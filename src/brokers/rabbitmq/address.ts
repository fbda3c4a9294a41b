/**
 * A queue's stream address, {vhost, queue, queueType}: what the manifest stores for each stream
 * (the version 1 manifest's `rabbitmq` object) and what offset maps name.
 */
import { MqbakError } from '../../common/errors.js';
import type { StreamAddress } from '../adapter.js';
import type { QueueInfo } from './management.js';

/** Where a queue lives: the manifest's stream address (the v1 manifest's `rabbitmq` object). */
export interface QueueAddress {
  vhost: string;
  queue: string;
  queueType: QueueInfo['type'];
}

export function queueAddress(vhost: string, q: Pick<QueueInfo, 'name' | 'type'>): StreamAddress {
  const a: QueueAddress = { vhost, queue: q.name, queueType: q.type };
  return a as unknown as StreamAddress;
}

/** The address's fields, checked: a manifest is read from outside. */
export function addressOf(address: StreamAddress): QueueAddress {
  const { vhost, queue, queueType } = address;
  if (typeof vhost !== 'string' || typeof queue !== 'string') {
    throw new MqbakError('integrity', `not a RabbitMQ queue address: ${JSON.stringify(address)}`);
  }
  const type = queueType === 'quorum' || queueType === 'stream' ? queueType : 'classic';
  return { vhost, queue, queueType: type };
}
