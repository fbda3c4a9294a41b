/**
 * A JetStream message as an archive record and back: the stream sequence is the position, the
 * data the value, the header block's lines the headers (order and repeated names kept), the
 * server's timestamp in milliseconds; the subject, which the generic record has no field for,
 * goes in the adapter-owned attributes as {"subject": ...}. There is no key.
 */
import { MqbakError } from '../../common/errors.js';
import type { ArchiveRecord, RecordColumns } from '../../common/record.js';
import type { NatsRecord } from './raw-message.js';

export interface NatsAttributes {
  subject: string;
}

export function archiveRecordOf(r: NatsRecord): ArchiveRecord {
  return {
    position: BigInt(r.seq),
    timestamp: r.timestamp,
    timestampType: null,
    key: null,
    value: r.data,
    headers: r.headers,
    attributes: { subject: r.subject },
  };
}

const text = new TextDecoder();

/** The subject of record i of restore columns, from its attributes, without building the whole record. */
export function subjectOf(cols: RecordColumns, i: number): string {
  const len = cols.attributeLength[i]!;
  if (len < 0) throw new MqbakError('integrity', `record at position ${cols.position[i]}: no subject (not a JetStream record)`);
  const start = cols.attributeStart[i]!;
  const json = text.decode(cols.bytes.subarray(start, start + len));
  let subject: unknown;
  try {
    subject = (JSON.parse(json) as { subject?: unknown }).subject;
  } catch {
    subject = undefined;
  }
  if (typeof subject !== 'string' || subject === '') {
    throw new MqbakError('integrity', `record at position ${cols.position[i]}: attributes ${json} hold no subject (not a JetStream record)`);
  }
  return subject;
}
