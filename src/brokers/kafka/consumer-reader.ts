/**
 * Reading partitions through kafkajs' consumer: where mqbak's own Fetch reader (fetcher.ts)
 * cannot read a partition's batches, or with MQBAK_KAFKA_CONSUMER=kafkajs. Each record becomes
 * an ArchiveRecord.
 */
import { randomBytes } from 'node:crypto';
import type { Consumer } from 'kafkajs';
import { MqbakError } from '../../common/errors.js';
import type { ArchiveRecord, RecordHeader } from '../../common/record.js';
import type { KafkaAdmin } from './admin.js';
import { unreachable, untilAborted } from './client.js';
import type { Isolation } from './options.js';

/** Offsets [from, to) of one partition. */
export interface ReadRange {
  partition: number;
  /** inclusive */
  from: bigint;
  /** exclusive: the end noted at start */
  to: bigint;
}

type KafkaHeaderValue = Buffer | string | undefined | null;

function headerValue(x: KafkaHeaderValue): Uint8Array | null {
  // a Buffer is a Uint8Array: kept as it is, copied once, into the archive block
  return x === undefined || x === null ? null : typeof x === 'string' ? Buffer.from(x, 'utf8') : x;
}

function headersOf(h: Record<string, KafkaHeaderValue | KafkaHeaderValue[]> | undefined): RecordHeader[] {
  const out: RecordHeader[] = [];
  if (!h) return out;
  for (const name in h) {
    const v = h[name];
    if (Array.isArray(v)) for (const x of v) out.push({ name, value: headerValue(x) });
    else out.push({ name, value: headerValue(v) });
  }
  return out;
}

/**
 * Reads [from, to) of each partition with a throwaway consumer group (mqbak-<random>, nothing
 * committed). kafkajs decodes headers into an object keyed by name: repeated names come back as
 * an array in their original relative order, but the interleaving between different names is lost.
 */
export async function readWithConsumer(
  admin: KafkaAdmin,
  topic: string,
  ranges: ReadRange[],
  isolation: Isolation,
  onBatch: (partition: number, records: ArchiveRecord[]) => Promise<void>,
  signal: AbortSignal,
): Promise<void> {
  const todo = ranges.filter((r) => r.from < r.to);
  if (todo.length === 0) return;
  const groupId = `mqbak-${randomBytes(6).toString('hex')}`;
  const kafka = admin.kafka;
  const consumer: Consumer = untilAborted(
    kafka.consumer({
      groupId,
      readUncommitted: isolation === 'read_uncommitted',
      sessionTimeout: 30000,
      maxWaitTimeInMs: 200,
      allowAutoTopicCreation: false,
    }),
    signal,
  );
  const pending = new Map<number, ReadRange>(todo.map((r) => [r.partition, r]));
  const all = new Set(ranges.map((r) => r.partition));
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject0) => {
      // an error thrown inside eachBatch is retried by kafkajs (consumer restart), never
      // surfaced: failures of the writer/store are stashed here and end the read at once
      let failed = false;
      const reject = (e: unknown) => {
        failed = true;
        reject0(e);
      };
      const onAbort = () => reject(new MqbakError('interrupted', 'interrupted'));
      signal.addEventListener('abort', onAbort, { once: true });
      const finishIfDone = () => {
        if (pending.size === 0) resolve();
      };
      consumer
        .run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning }) => {
            const range = pending.get(batch.partition);
            if (!range) return;
            const records: ArchiveRecord[] = [];
            let lastOffset: string | null = null;
            for (const m of batch.messages) {
              const off = BigInt(m.offset);
              if (off < range.from) continue;
              if (off >= range.to) break;
              records.push({
                position: off,
                timestamp: m.timestamp === undefined || m.timestamp === '-1' ? null : Number(m.timestamp),
                timestampType: null,
                key: m.key ?? null,
                value: m.value ?? null,
                headers: headersOf(m.headers as Record<string, KafkaHeaderValue | KafkaHeaderValue[]> | undefined),
                attributes: null,
              });
              lastOffset = m.offset;
            }
            if (!isRunning() || signal.aborted || failed) return;
            if (lastOffset !== null) {
              try {
                // one call per fetched batch: the writer encodes synchronously and waits only
                // when compression or the store falls behind (backpressure)
                await onBatch(batch.partition, records);
              } catch (e) {
                reject(e);
                return;
              }
              if (!isRunning() || signal.aborted || failed) return;
              resolveOffset(lastOffset);
            }
            await heartbeat();
            // control records and compacted-away offsets: the batch may end past the last message
            const last = BigInt(batch.lastOffset());
            if (last >= range.to - 1n) {
              pending.delete(batch.partition);
              consumer.pause([{ topic, partitions: [batch.partition] }]);
              finishIfDone();
            }
          },
        })
        .then(() => {
          // seek only after run(): kafkajs applies seeks to a running consumer
          for (const p of all) {
            const r = pending.get(p);
            if (r) consumer.seek({ topic, partition: p, offset: r.from.toString() });
            else consumer.pause([{ topic, partitions: [p] }]);
          }
        })
        .catch(reject);
    });
  } catch (e) {
    if (e instanceof MqbakError) throw e;
    throw unreachable(e, `read ${topic}`);
  } finally {
    await consumer.disconnect().catch(() => {});
    await admin.deleteGroup(groupId);
  }
}
