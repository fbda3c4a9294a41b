/**
 * Regenerates the golden archives in fixtures/ (docs/FORMAT.md, "Golden fixtures"):
 *
 *   npx tsx scripts/make-fixtures.ts [--encrypted] [--cut]
 *
 * fixtures/store-v2/ holds three backups written by the real writer with fixed ids and clocks:
 * a Kafka full backup, a Kafka incremental on top of it, and a RabbitMQ full backup.
 * fixtures/store-v2.expected.jsonl holds what `mqbak cat` must print for each of them, made from
 * the input records here (not by decoding the archive), one JSON line per record with a
 * "backup" field. Tests check that the fixtures still decode to exactly that and that the
 * writer still produces the same bytes. Only regenerate on purpose: a format change needs a new
 * format version and new fixtures NEXT to the old ones, which must keep decoding.
 *
 * fixtures/store-v3-encrypted/ holds the same three backups written to an encrypted store (format
 * version 3): one key file made from fixed inputs (ENCRYPTED_FIXTURE: password, salt, nonce,
 * id, master key, the lowest scrypt cost), every block and manifest sealed. Nonces come from
 * each block's place, so the store is reproducible byte for byte like the others.
 *
 * fixtures/store-v4-cut/ is store-v2 plus a cut (format version 4, docs/FORMAT.md 11) of the Kafka
 * chain at CUT_FIXTURE's time, made by core's cut with a fixed id and clock: a full backup that
 * refers to the incremental's segments and leaves out the full's.
 *
 * fixtures/store-v1/ is the same three backups as format version 1 wrote them (by this script
 * before version 2): the same segments, manifests with version 1 stream entries. It is never
 * rewritten; tests check that it still decodes, verifies and prints the same JSON lines.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArchiveRecord } from '../src/common/record.js';
import { amqpToAttributes } from '../src/brokers/rabbitmq/amqp-json.js';
import type { SourceDescription } from '../src/archive/manifest.js';
import { LocalStore } from '../src/stores/local.js';
import { openBackupWriter, type StreamSpec } from '../src/core/backup-writer.js';
import { cut } from '../src/core/cut.js';
import { recordToJson } from '../src/core/inspect.js';
import { adapterNamed } from '../src/brokers/registry.js';
import { wasmZstdCodec, type BlockCodec } from '../src/archive/codec.js';
import { createKeyFile } from '../src/archive/encryption/key-file.js';
import { keyFileKey } from '../src/archive/encryption/key-ring.js';
import { attachMasterKey } from '../src/archive/encryption/store-key.js';

const enc = (s: string) => new TextEncoder().encode(s);
const bytes = (...b: number[]) => new Uint8Array(b);

/** Deterministic bytes that do not compress (so that a record spans several blocks). */
function noise(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

export interface FixtureBackup {
  id: string;
  time: string;
  kind: 'full' | 'incremental';
  parentId: string | null;
  source: SourceDescription;
  metadata: Record<string, unknown>;
  warnings: string[];
  streams: Array<{ spec: StreamSpec; records: ArchiveRecord[]; to: bigint; gaps?: Array<[bigint, bigint, string]> }>;
}

/** The store this script writes: the current format version's. */
export const FIXTURE_STORE = 'store-v2';
/** Older format versions' stores, kept as they were written. */
export const OLD_FIXTURE_STORES = ['store-v1'];
/** The encrypted store of format version 3, and the fixed inputs of its one key file (as in test/vectors/encryption.json). */
export const ENCRYPTED_FIXTURE_STORE = 'store-v3-encrypted';
export const ENCRYPTED_FIXTURE = {
  password: 'mqbak test password',
  salt: Uint8Array.from({ length: 32 }, (_, i) => 0x20 + i),
  nonce: Uint8Array.from({ length: 12 }, (_, i) => 0x40 + i),
  masterKey: Uint8Array.from({ length: 32 }, (_, i) => i),
  id: '0a1b2c3d',
  created: '2026-11-25T00:00:00.000Z',
  params: { N: 1024, r: 8, p: 1 },
};
/** The store of format version 4: store-v2 and a cut of its Kafka chain. */
export const CUT_FIXTURE_STORE = 'store-v4-cut';
export const CUT_FIXTURE = { id: '20261125T040000000Z-c4c4c4', time: '2026-11-25T04:00:00.000Z', of: '20261125T020000000Z-d4e5f6', before: '2026-11-25T01:30:00.000Z' };
export const FIXTURE_OPTIONS = { blockSize: 1024, segmentSize: 2048, level: 3, toolVersion: '0.1.0' };

const kafkaSource: SourceDescription = {
  broker: 'kafka',
  url: 'kafka://broker-1:9092,broker-2:9092',
  chainKey: 'kafka:fixture-cluster:orders,payments',
  options: { isolationLevel: 'read_committed' },
};

function kafkaSpec(topic: string, partition: number, from: bigint): StreamSpec {
  return { name: `kafka/${topic}/${partition}`, address: { topic, partition }, from };
}

function orders(from: bigint, n: number, t0: number): ArchiveRecord[] {
  const out: ArchiveRecord[] = [];
  for (let i = 0; i < n; i++) {
    const position = from + BigInt(i);
    const k = i % 6;
    out.push({
      position,
      timestamp: t0 + i * 1000,
      timestampType: 'create',
      key: k === 2 ? bytes(0x00, 0xff, 0xfe, i & 0xff) : enc(`order-${Number(position) % 5}`), // binary keys
      value: k === 3 ? null : k === 4 ? new Uint8Array(0) : enc(JSON.stringify({ order: Number(position), amount: (i * 37) % 1000, note: 'ünïcödé' })),
      headers:
        k === 1
          ? [
              { name: 'trace-id', value: enc(`t-${i}`) },
              { name: 'hop', value: enc('gateway') },
              { name: 'hop', value: enc('billing') }, // repeated header names, in order
              { name: 'empty', value: new Uint8Array(0) },
              { name: 'null', value: null },
            ]
          : k === 5
            ? [{ name: 'bin', value: bytes(0xc3, 0x28) }] // invalid UTF-8
            : [],
      attributes: null,
    });
  }
  return out;
}

function payments(from: bigint, n: number, t0: number): ArchiveRecord[] {
  const out: ArchiveRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      position: from + BigInt(i * 3), // compacted topic: offsets with holes
      timestamp: i === 1 ? null : t0 + i,
      timestampType: i === 1 ? null : 'log-append',
      key: enc(`acct-${i % 3}`),
      // one value larger than several 1 KiB blocks
      value: i === 2 ? noise(5000, 42) : i === 4 ? null : enc(`paid ${i}`),
      headers: [],
      attributes: null,
    });
  }
  return out;
}

const rabbitSource: SourceDescription = {
  broker: 'rabbitmq',
  url: 'amqp://guest@rabbit:5672/prod',
  chainKey: 'rabbitmq:rabbit:5672:prod:jobs,events',
  options: { mode: 'mirror' },
};

function jobs(n: number): ArchiveRecord[] {
  const out: ArchiveRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      position: BigInt(i),
      timestamp: i % 2 === 0 ? 1_795_568_400_000 + i * 1000 : null,
      timestampType: null,
      key: null,
      value: i === 2 ? new Uint8Array(0) : i === 3 ? noise(40, 7) : enc(`{"job":${i}}`),
      headers: [],
      attributes: amqpToAttributes({
        exchange: i % 2 ? 'jobs-exchange' : '',
        routingKey: i % 2 ? 'jobs.high' : 'jobs',
        redelivered: i === 4,
        properties:
          i === 1
            ? {}
            : {
                contentType: 'application/json',
                contentEncoding: 'utf-8',
                deliveryMode: 2,
                priority: i,
                correlationId: `corr-${i}`,
                replyTo: 'replies',
                expiration: '3600000',
                messageId: `msg-${i}`,
                timestamp: 1_795_568_400 + i,
                type: 'job.created',
                userId: 'guest',
                appId: 'fixture',
                headers: [
                  { name: 'x-retries', value: { type: 'int32', value: i } },
                  { name: 'x-big', value: { type: 'int64', value: '9007199254740993' } },
                  { name: 'x-flag', value: { type: 'bool', value: i % 2 === 0 } },
                  { name: 'x-ratio', value: { type: 'double', value: i === 0 ? NaN : 0.25 } },
                  { name: 'x-price', value: { type: 'decimal', places: 2, digits: 1999 } },
                  { name: 'x-when', value: { type: 'timestamp', value: 1_795_568_400 } },
                  { name: 'x-raw', value: { type: 'bytes', value: Buffer.from([0, 1, 254, 255]).toString('base64') } },
                  { name: 'x-nothing', value: { type: 'void' } },
                  {
                    name: 'x-death',
                    value: {
                      type: 'array',
                      value: [
                        {
                          type: 'table',
                          value: [
                            { name: 'count', value: { type: 'int64', value: '1' } },
                            { name: 'queue', value: { type: 'string', value: 'jobs' } },
                          ],
                        },
                      ],
                    },
                  },
                  { name: 'x-retries', value: { type: 'uint8', value: 200 } },
                ],
              },
      }),
    });
  }
  return out;
}

export function fixtureBackups(): FixtureBackup[] {
  return [
    {
      id: '20261125T010000000Z-a1b2c3',
      time: '2026-11-25T01:00:00.000Z',
      kind: 'full',
      parentId: null,
      source: kafkaSource,
      metadata: {
        kafka: {
          clusterId: 'fixture-cluster',
          topics: [
            { name: 'orders', partitions: 2, configs: { 'cleanup.policy': 'delete', 'retention.ms': '604800000' } },
            { name: 'payments', partitions: 1, configs: { 'cleanup.policy': 'compact' } },
          ],
          groups: [{ groupId: 'billing', offsets: [{ topic: 'orders', partition: 0, offset: '10' }] }],
        },
      },
      warnings: [],
      streams: [
        { spec: kafkaSpec('orders', 0, 0n), records: orders(0n, 40, 1_795_568_400_000), to: 40n },
        { spec: kafkaSpec('orders', 1, 0n), records: [], to: 0n },
        { spec: kafkaSpec('payments', 0, 3n), records: payments(3n, 8, 1_795_568_500_000), to: 30n, gaps: [[0n, 3n, 'deleted by retention before the backup']] },
      ],
    },
    {
      id: '20261125T020000000Z-d4e5f6',
      time: '2026-11-25T02:00:00.000Z',
      kind: 'incremental',
      parentId: '20261125T010000000Z-a1b2c3',
      source: kafkaSource,
      metadata: { kafka: { clusterId: 'fixture-cluster', groups: [{ groupId: 'billing', offsets: [{ topic: 'orders', partition: 0, offset: '45' }] }] } },
      warnings: ['orders[1]: no new records'],
      streams: [
        { spec: kafkaSpec('orders', 0, 40n), records: orders(40n, 12, 1_795_572_000_000), to: 52n },
        { spec: kafkaSpec('orders', 1, 0n), records: [], to: 0n },
        { spec: kafkaSpec('payments', 0, 30n), records: payments(30n, 3, 1_795_572_100_000), to: 39n },
      ],
    },
    {
      id: '20261125T030000000Z-0a0b0c',
      time: '2026-11-25T03:00:00.000Z',
      kind: 'full',
      parentId: null,
      source: rabbitSource,
      metadata: { rabbitmqDefinitions: { queues: [{ name: 'jobs', vhost: 'prod', durable: true, arguments: { 'x-queue-type': 'classic' } }] } },
      warnings: [],
      streams: [
        {
          spec: { name: 'rabbitmq/prod/jobs', address: { vhost: 'prod', queue: 'jobs', queueType: 'classic' }, from: 0n, extra: { mode: 'mirror', depthAtStart: 6 } },
          records: jobs(6),
          to: 6n,
        },
      ],
    },
  ];
}

/**
 * Writes the fixture store into `dir` (which must not hold one yet); returns the manifests'
 * SHA-256s. `encrypted`: the format 3 store, with ENCRYPTED_FIXTURE's key file.
 */
export async function writeFixtureStore(dir: string, codec: BlockCodec = wasmZstdCodec, encrypted = false): Promise<Record<string, string>> {
  const store = new LocalStore(dir);
  const shas: Record<string, string> = {};
  if (encrypted) {
    const f = ENCRYPTED_FIXTURE;
    const key = await createKeyFile(enc(f.password), {
      params: f.params,
      masterKey: f.masterKey,
      now: new Date(f.created),
      fixed: { salt: f.salt, nonce: f.nonce, id: f.id },
    });
    await store.put(keyFileKey(key.id), key.file);
    attachMasterKey(store, key.masterKey);
  }
  for (const b of fixtureBackups()) {
    const t = new Date(b.time);
    const w = await openBackupWriter({
      store,
      kind: b.kind,
      parent: b.parentId ? { id: b.parentId, sha256: shas[b.parentId]! } : null,
      source: b.source,
      toolVersion: FIXTURE_OPTIONS.toolVersion,
      blockSize: FIXTURE_OPTIONS.blockSize,
      segmentSize: FIXTURE_OPTIONS.segmentSize,
      level: FIXTURE_OPTIONS.level,
      id: b.id,
      now: () => t,
      // the fixtures' frames are zstd-codec's, byte for byte, whatever else is installed
      codec,
    });
    for (const s of b.streams) {
      const sw = w.openStream(s.spec);
      for (const [from, to, reason] of s.gaps ?? []) sw.addGap(from, to, reason);
      for (const r of s.records) await sw.append(r);
      await sw.close(s.to);
    }
    for (const [k, v] of Object.entries(b.metadata)) w.setMetadata(k, v);
    for (const m of b.warnings) w.warn(m);
    shas[b.id] = (await w.commit()).sha256;
  }
  await store.close();
  return shas;
}

/** Writes the cut fixture store into `dir`: the fixture store, then the cut (CUT_FIXTURE). */
export async function writeCutFixtureStore(dir: string, codec: BlockCodec = wasmZstdCodec): Promise<void> {
  await writeFixtureStore(dir, codec);
  const store = new LocalStore(dir);
  const c = CUT_FIXTURE;
  const r = await cut({ store, beforeMs: Date.parse(c.before), backupId: c.of, id: c.id, now: () => Date.parse(c.time), toolVersion: FIXTURE_OPTIONS.toolVersion });
  if (r.cuts[0]?.id !== c.id) throw new Error(`the fixture cut was not made: ${JSON.stringify(r.cuts[0]?.plan.summary)}`);
  await store.close();
}

/** What `mqbak cat` prints for the cut: the incremental's records (the full's are left out whole). */
export async function expectedCutLines(): Promise<string[]> {
  const inc = fixtureBackups().find((b) => b.id === CUT_FIXTURE.of)!;
  const key = (await adapterNamed(inc.source.broker))?.attributesKey ?? undefined;
  return inc.streams.flatMap((s) => s.records.map((r) => JSON.stringify({ backup: CUT_FIXTURE.id, ...recordToJson(s.spec.name, r, key) })));
}

/**
 * The JSON lines `mqbak cat` prints for each fixture backup, from the input records (attributes
 * under the name the backup's adapter gives them, as cat does: RabbitMQ's under "amqp").
 */
export async function expectedLines(): Promise<string[]> {
  const lines: string[] = [];
  for (const b of fixtureBackups()) {
    const key = (await adapterNamed(b.source.broker))?.attributesKey ?? undefined;
    for (const s of b.streams) for (const r of s.records) lines.push(JSON.stringify({ backup: b.id, ...recordToJson(s.spec.name, r, key) }));
  }
  return lines;
}

async function main(): Promise<void> {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
  const dir = join(root, FIXTURE_STORE);
  await rm(dir, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  const shas = await writeFixtureStore(dir);
  await writeFile(join(root, `${FIXTURE_STORE}.expected.jsonl`), `${(await expectedLines()).join('\n')}\n`);
  process.stdout.write(`wrote ${dir}\n${Object.entries(shas).map(([id, sha]) => `  ${id} ${sha}`).join('\n')}\n`);
  // the cut store only when asked: its bytes must not change once checked in either
  if (process.argv.includes('--cut')) {
    const cdir = join(root, CUT_FIXTURE_STORE);
    await rm(cdir, { recursive: true, force: true });
    await writeCutFixtureStore(cdir);
    await writeFile(join(root, `${CUT_FIXTURE_STORE}.expected.jsonl`), `${[...(await expectedLines()), ...(await expectedCutLines())].join('\n')}\n`);
    process.stdout.write(`wrote ${cdir}\n`);
  }
  // the encrypted store only when asked: its bytes must not change once checked in either
  if (process.argv.includes('--encrypted')) {
    const edir = join(root, ENCRYPTED_FIXTURE_STORE);
    await rm(edir, { recursive: true, force: true });
    const eshas = await writeFixtureStore(edir, wasmZstdCodec, true);
    await writeFile(join(root, `${ENCRYPTED_FIXTURE_STORE}.expected.jsonl`), `${(await expectedLines()).join('\n')}\n`);
    process.stdout.write(`wrote ${edir}\n${Object.entries(eshas).map(([id, sha]) => `  ${id} ${sha}`).join('\n')}\n`);
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await main();
}
