/**
 * What the broker adapter contract suites share (test/contract/broker-contract.ts): the fixture
 * a test file gives them, the in-memory RecordSink standing for the backup writer, and the reads
 * and comparisons both suites use.
 */
import type {
  AdapterContext,
  AdapterOptionValues,
  BrokerAdapter,
  BrokerSource,
  ReadMode,
  RecordSink,
  SourceSelection,
  StreamAddress,
} from '../../src/brokers/adapter.js';
import { loadZstdDecompressor } from '../../src/archive/codec.js';
import { silentProgress } from '../../src/common/progress.js';
import { columnRecord, type ArchiveRecord, type RecordColumns } from '../../src/common/record.js';


export interface SourceFixture {
  url: string;
  /** Backup option values (commander camel-case names) that select exactly the new streams. */
  options: AdapterOptionValues;
  /** Streams the selection must hold (Kafka: partitions of the new topic; RabbitMQ: 1 queue). */
  streams: number;
  /** Publishes `records` more records, values continuing the numbering: written after any cut taken so far. */
  append(records: number): Promise<void>;
}

export interface SinkFixture {
  url: string;
  options: AdapterOptionValues;
  /** A selector name nothing on the broker has yet: the records are restored under it. */
  name: string;
  /** Everything the target stream at `address` holds, in order (may consume it: the test is over). */
  readBack(address: StreamAddress): Promise<Array<{ key: Uint8Array | null; value: Uint8Array | null }>>;
}

export interface BrokerFixture {
  adapter: BrokerAdapter;
  /** The read modes this adapter's source offers; each is tested. */
  modes: readonly ReadMode[];
  /**
   * New streams (fresh names) holding `records` records read as `mode`, valued 0..records-1 as
   * UTF-8 text in publish order.
   */
  source(mode: ReadMode, records: number): Promise<SourceFixture>;
  /** A target on the same broker: the sink suites restore into it what a 'log' (or first mode) source read. */
  sink(): Promise<SinkFixture>;
  /**
   * Whether a restored stream gets positions the sink reports as offset runs. False for targets
   * without positions (a RabbitMQ classic queue): then close() returns no runs.
   */
  sinkHasPositions: boolean;
  cleanup(): Promise<void>;
}

const text = new TextDecoder();
const enc = new TextEncoder();

/** What the backup writer stands for in these suites: everything appended, in order. */
export class MemoryRecordSink implements RecordSink {
  readonly records: ArchiveRecord[] = [];
  readonly gaps: Array<{ from: bigint; to: bigint; reason: string }> = [];
  readonly extra: Record<string, unknown> = {};
  readonly warnings: string[] = [];
  /** The source said it will append nothing more (RecordSink.end): a later record fails the read. */
  ended = false;

  async append(record: ArchiveRecord): Promise<void> {
    this.push(record);
  }
  async appendMany(records: readonly ArchiveRecord[]): Promise<void> {
    for (const r of records) this.push(r);
  }
  async appendColumns(columns: RecordColumns): Promise<void> {
    // columnRecord's views share the block's bytes, which a reader may reuse: copy them
    for (let i = 0; i < columns.count; i++) this.push(copy(columnRecord(columns, i)));
  }
  addGap(from: bigint, to: bigint, reason: string): void {
    this.gaps.push({ from, to, reason });
  }
  setExtra(key: string, value: unknown): void {
    this.extra[key] = value;
  }
  warn(message: string): void {
    this.warnings.push(message);
  }
  async end(): Promise<void> {
    this.ended = true;
  }
  private push(r: ArchiveRecord): void {
    if (this.ended) throw new Error(`position ${r.position} appended after the source ended the stream`);
    const last = this.records[this.records.length - 1];
    if (last !== undefined && r.position <= last.position) throw new Error(`position ${r.position} appended after ${last.position}`);
    this.records.push(r);
  }
}

/** A real copy whatever the class (Buffer#slice is a view; Uint8Array#slice copies, keeping the class). */
const own = (b: Uint8Array | null): Uint8Array | null => (b === null ? null : Uint8Array.prototype.slice.call(b));

export function copy(r: ArchiveRecord): ArchiveRecord {
  return { ...r, key: own(r.key), value: own(r.value), headers: r.headers.map((h) => ({ name: h.name, value: own(h.value) })) };
}

/** Bytes compared by content, whether a Buffer or a Uint8Array. */
export const hex = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex'));

/** The numbers the fixture wrote into the values, in the order they came. */
export function numbers(records: readonly { value: Uint8Array | null }[]): number[] {
  return records.map((r) => Number(text.decode(r.value ?? new Uint8Array())));
}

export function context(): AdapterContext {
  return { signal: new AbortController().signal, progress: silentProgress, debug: false, env: {}, zstd: () => loadZstdDecompressor() };
}

export interface Read {
  selection: SourceSelection;
  sinks: Map<string, MemoryRecordSink>;
  to: Map<string, bigint>;
  settle?: () => Promise<void>;
  more?: boolean;
}

/** A full read of every selected stream from its start (or from `from`), the way core's backup does it. */
export async function readAll(source: BrokerSource, options: { limit?: number; from?: Map<string, bigint> } = {}): Promise<Read> {
  const selection = await source.select();
  const sinks = new Map<string, MemoryRecordSink>();
  const requests = selection.streams.map((stream) => {
    const out = new MemoryRecordSink();
    sinks.set(stream.name, out);
    return { stream, from: options.from?.get(stream.name) ?? stream.start ?? 0n, out };
  });
  const signal = new AbortController().signal;
  const drains = requests.filter((r) => r.stream.mode === 'drain');
  const to = new Map<string, bigint>();
  let settle: (() => Promise<void>) | undefined;
  let more: boolean | undefined;
  const others = requests.filter((r) => r.stream.mode !== 'drain');
  if (others.length > 0) for (const [k, v] of (await source.read(others, { signal })).to) to.set(k, v);
  // a drain request is always alone
  for (const d of drains) {
    const outcome = await source.read([d], { signal, limit: options.limit });
    for (const [k, v] of outcome.to) to.set(k, v);
    settle = outcome.settle;
    more = outcome.more;
  }
  return { selection, sinks, to, settle, more };
}

export function allRecords(read: Read): ArchiveRecord[] {
  return [...read.sinks.values()].flatMap((s) => s.records);
}

export async function withSource<T>(f: BrokerFixture, s: SourceFixture, use: (source: BrokerSource) => Promise<T>): Promise<T> {
  f.adapter.checkBackup(s.url, s.options, {});
  const source = await f.adapter.openSource(s.url, s.options, context());
  try {
    return await use(source);
  } finally {
    await source.close();
  }
}

/** For fixtures: the value of record i. */
export function valueOf(i: number): Uint8Array {
  return enc.encode(String(i));
}
