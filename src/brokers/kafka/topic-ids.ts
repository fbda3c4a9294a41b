/**
 * Topic ids (KIP-516): the id Kafka gives a topic when it is created, which changes when a topic
 * is deleted and created again under the same name. kafkajs 2.2 sends Metadata up to version 6,
 * which has no ids; mqbak sends Metadata version 10 itself (the first that carries them, answered
 * by Kafka 2.8 and later) over kafkajs' connection. Each partition's stream carries its topic's
 * id as its lineage, so that a recreated topic starts a new chain instead of continuing the old
 * one with a hole.
 */
import type { Internals } from './internals.js';

const METADATA = 3;
const VERSION = 10;
const ZERO_ID = '0'.repeat(32);

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * Metadata v10's body, preceded by the request header's empty tagged fields: kafkajs writes the
 * header of version 1 (no tags), version 2 is that plus tags.
 */
export function encodeMetadataV10(topics: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0]), uvarint(topics.length + 1)];
  for (const t of topics) {
    const name = Buffer.from(t, 'utf8');
    parts.push(Buffer.alloc(16), uvarint(name.length + 1), name, Buffer.from([0]));
  }
  // allow auto topic creation, include cluster and topic authorized operations: no; no tags
  parts.push(Buffer.from([0, 0, 0, 0]));
  return Buffer.concat(parts);
}

/** Reads a Metadata v10 answer (after the correlation id): each topic's id (hex) by name. */
export function decodeMetadataV10(b: Buffer): Map<string, string> {
  let o = 0;
  const need = (n: number) => {
    if (o + n > b.length) throw new Error(`Metadata v10 answer: ${b.length} bytes, cut off at ${o}`);
  };
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      need(1);
      const x = b[o++]!;
      v += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return v;
    }
  };
  const tags = () => {
    for (let n = varint(); n > 0; n--) {
      varint();
      const size = varint();
      need(size);
      o += size;
    }
  };
  const str = (): string | null => {
    const n = varint() - 1;
    if (n < 0) return null;
    need(n);
    o += n;
    return b.toString('utf8', o - n, o);
  };
  const int32s = () => {
    const n = varint() - 1;
    need(4 * Math.max(n, 0));
    o += 4 * Math.max(n, 0);
  };
  tags(); // the response header's
  need(4);
  o += 4; // throttle time
  for (let n = varint() - 1; n > 0; n--) {
    need(4);
    o += 4; // node id
    str(); // host
    need(4);
    o += 4; // port
    str(); // rack
    tags();
  }
  str(); // cluster id
  need(4);
  o += 4; // controller id
  const ids = new Map<string, string>();
  for (let n = varint() - 1; n > 0; n--) {
    need(2);
    const error = b.readInt16BE(o);
    o += 2;
    const name = str();
    need(16 + 1);
    const id = b.toString('hex', o, o + 16);
    o += 16 + 1; // id, is internal
    for (let p = varint() - 1; p > 0; p--) {
      need(2 + 4 + 4 + 4);
      o += 14; // error, index, leader, leader epoch
      int32s(); // replicas
      int32s(); // in-sync replicas
      int32s(); // offline replicas
      tags();
    }
    need(4);
    o += 4; // topic authorized operations
    tags();
    if (name !== null && error === 0 && id !== ZERO_ID) ids.set(name, id);
  }
  return ids;
}

/**
 * Each topic's id, asked of the controller; null when the broker has no Metadata v10 (an id is
 * then unknown, and only the partitions' ends tell a recreated topic: docs/KAFKA.md).
 */
export async function topicIds(k: Internals, topics: readonly string[]): Promise<Map<string, string> | null> {
  const broker = await k.cluster.findControllerBroker();
  const v = broker.versions?.[METADATA];
  if (!v || v.minVersion > VERSION || v.maxVersion < VERSION) return null;
  const body = encodeMetadataV10(topics);
  const payload = { buf: body, buffer: body, size: () => body.length };
  const answer = await k.send(broker, {
    request: { apiKey: METADATA, apiVersion: VERSION, apiName: 'Metadata', encode: async () => payload },
    response: { decode: async (p: Buffer) => decodeMetadataV10(p), parse: async (x: unknown) => x },
  });
  return answer as Map<string, string>;
}
