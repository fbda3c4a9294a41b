/**
 * The restore's producer for one target cluster, behind one prepare/transmit pair: mqbak's own
 * record-batch producer (batch-producer.ts), or kafkajs' producer where that cannot run.
 */
import type { Producer } from 'kafkajs';
import { MqbakError } from '../../common/errors.js';
import { columnRecord, type ArchiveRecord, type RecordSlice } from '../../common/record.js';
import type { KafkaAdmin } from './admin.js';
import { BatchProducer, type PreparedBatch } from './batch-producer.js';
import { InternalsMissing } from './internals.js';
import { unreachable, untilAborted } from './client.js';
import { raceAbort } from '../../common/abort.js';
import { sleep } from './retry.js';
import type { KafkaProducerKind } from './options.js';

const EMPTY = Buffer.alloc(0);

/** A Buffer over the same bytes (no copy: the archive block stays alive while it is sent). */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** A batch on its way to one partition (see KafkaProducer.prepare). */
export type PreparedSend = { batch: PreparedBatch } | { records: { topic: string; partition: number; records: ArchiveRecord[] } };

/**
 * Idempotent producer (acks -1, one request per partition in flight): acknowledged offsets of a
 * partition are in send order. 'batch' (the default) is mqbak's own record-batch encoder over
 * kafkajs' connections (batch-producer.ts); 'kafkajs' is kafkajs' producer, used as well when the
 * former cannot run with this kafkajs or broker.
 */
export class KafkaProducer {
  private constructor(
    private readonly producer: Producer | null,
    private readonly batch: BatchProducer | null,
  ) {}

  get kind(): KafkaProducerKind {
    return this.batch ? 'batch' : 'kafkajs';
  }

  /** `info` tells the user when mqbak's own producer cannot run and kafkajs' takes over. */
  static async connect(admin: KafkaAdmin, kind: KafkaProducerKind = 'batch', info: (message: string) => void = () => {}): Promise<KafkaProducer> {
    if (kind === 'batch') {
      let batch: BatchProducer | InternalsMissing;
      try {
        batch = await raceAbort(BatchProducer.open(admin.kafka, { signal: admin.signal }), admin.signal);
      } catch (e) {
        throw unreachable(e, 'connect the Kafka producer');
      }
      if (!(batch instanceof InternalsMissing)) return new KafkaProducer(null, batch);
      info(`mqbak's own producer is unavailable (${batch.reason}): writing through kafkajs' producer`);
    }
    const producer = untilAborted(admin.kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false }), admin.signal);
    try {
      await producer.connect();
    } catch (e) {
      throw unreachable(e, 'connect the Kafka producer');
    }
    return new KafkaProducer(producer, null);
  }

  /** The batch producer's id and epoch; null for kafkajs' producer, whose sequences mqbak does not set. */
  identity(): { producerId: bigint; producerEpoch: number } | null {
    return this.batch ? this.batch.identity() : null;
  }

  /** See BatchProducer.position; null for kafkajs' producer. */
  position(topic: string, partition: number): { producerId: bigint; producerEpoch: number; nextSequence: number } | null {
    return this.batch ? this.batch.position(topic, partition) : null;
  }

  /** See BatchProducer.adopt; only for the batch producer. */
  adopt(topic: string, partition: number, producerId: bigint, producerEpoch: number, nextSequence: number): void {
    if (!this.batch) throw new MqbakError('internal', "kafkajs' producer cannot write as another producer id");
    this.batch.adopt(topic, partition, producerId, producerEpoch, nextSequence);
  }

  /**
   * Starts encoding the partition's next batch, to be sent with transmit: the restore encodes a
   * partition's next batch while the one before it is on the wire. Transmit a partition's batches
   * in the order they were prepared, each after the one before it was acknowledged. With the
   * 'batch' producer, batches of different partitions may be in flight at once.
   */
  prepare(topic: string, partition: number, records: readonly RecordSlice[]): PreparedSend {
    if (this.batch) return { batch: this.batch.prepare(topic, partition, records) };
    const objects: ArchiveRecord[] = [];
    for (const s of records) for (let i = s.from; i < s.to; i++) objects.push(columnRecord(s.cols, i));
    return { records: { topic, partition, records: objects } };
  }

  /** Sends a prepared batch; returns the acknowledged base offset. */
  async transmit(p: PreparedSend, signal?: AbortSignal): Promise<bigint> {
    if ('batch' in p) {
      if (!this.batch) throw new MqbakError('internal', 'a batch prepared for another producer');
      return this.batch.transmit(p.batch, signal);
    }
    return this.sendWithKafkajs(p.records.topic, p.records.partition, p.records.records, signal);
  }

  private async sendWithKafkajs(topic: string, partition: number, records: ArchiveRecord[], signal?: AbortSignal): Promise<bigint> {
    if (!this.producer) throw new MqbakError('internal', 'Kafka producer is closed');
    const { default: kafkajs } = await import('kafkajs');
    // kafkajs sends nothing and returns [] (no error) to a partition its cached metadata does not
    // know yet (just after createTopics/createPartitions, seen on the mock): nothing was written,
    // so sending again once metadata caught up is safe (and the producer is idempotent anyway).
    const producer = this.producer;
    const sendOnce = () => producer.send({
      topic,
      acks: -1,
      compression: kafkajs.CompressionTypes.None,
      messages: records.map((rec) => {
        // no prototype: a header named __proto__ stays a header
        const headers = Object.create(null) as Record<string, Buffer | Buffer[]>;
        for (const h of rec.headers) {
          const v = h.value === null ? EMPTY : asBuffer(h.value);
          const had = headers[h.name];
          if (had === undefined) headers[h.name] = v;
          else if (Array.isArray(had)) had.push(v);
          else headers[h.name] = [had, v];
        }
        return {
          partition,
          key: rec.key === null ? null : asBuffer(rec.key),
          value: rec.value === null ? null : asBuffer(rec.value),
          headers,
          // no timestamp (message format v0): Kafka's -1, not kafkajs' default of the time of sending
          timestamp: rec.timestamp === null ? '-1' : String(rec.timestamp),
        };
      }),
    });
    let r = await sendOnce();
    for (let attempt = 1; attempt <= 10 && !r.some((x) => x.topicName === topic && x.partition === partition); attempt++) {
      await sleep(200 * attempt, signal);
      r = await sendOnce();
    }
    const meta = r.find((x) => x.topicName === topic && x.partition === partition);
    if (!meta || meta.baseOffset === undefined) throw new MqbakError('partial', `produce to ${topic}[${partition}]: no acknowledgement from the broker`);
    return BigInt(meta.baseOffset);
  }

  async disconnect(): Promise<void> {
    await this.batch?.close();
    await this.producer?.disconnect().catch(() => {});
  }
}
