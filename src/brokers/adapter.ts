/**
 * The broker adapter: everything mqbak knows about one kind of broker, behind one interface.
 * Types only. The core runs one backup pipeline and one restore pipeline for every adapter; the
 * CLI finds adapters through src/brokers/registry.ts by URL scheme. Adding a broker is one folder
 * under src/brokers/ that exports a BrokerAdapter, and one line in the registry
 * (docs/ARCHITECTURE.md, "Adding a broker").
 *
 * Positions are bigints everywhere: a Kafka offset, a RabbitMQ stream offset or delivery
 * sequence, a JetStream stream sequence. A stream's positions strictly increase.
 */
import type { Progress } from '../common/progress.js';
import type { ArchiveRecord, JsonValue, RecordColumns, RecordHeader, RecordSlice } from '../common/record.js';

/**
 * Where a stream lives on its broker, owned by its adapter (Kafka {topic, partition}; RabbitMQ
 * {vhost, queue, queueType}; JetStream {stream}). Stored in the manifest as it is: plain JSON.
 */
export type StreamAddress = Readonly<Record<string, string | number | boolean | null>>;

/** A command-line option an adapter adds to `backup` or `restore`. */
export interface AdapterOption {
  /** commander flags, e.g. '--topics <a,b>' or '--definitions' */
  flags: string;
  description: string;
  /** how the CLI parses the value: a comma list, a whole number >= 1, seconds, repeatable */
  kind?: 'string' | 'list' | 'positive-int' | 'seconds' | 'repeatable' | 'flag';
  /** an environment variable the CLI reads when the option is not given */
  env?: string;
  /** choices the value must be one of */
  choices?: readonly string[];
}

/** Parsed command-line values of an adapter's options, by commander's camel-case names. */
export type AdapterOptionValues = Readonly<Record<string, unknown>>;

export interface AdapterContext {
  signal: AbortSignal;
  progress: Progress;
  /** --debug: client library logs may be shown */
  debug: boolean;
  /** The environment the CLI runs in (adapter switches such as MQBAK_KAFKA_PRODUCER). */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Loads a zstd decompressor (one frame in, its bytes out), for brokers whose wire format may be
   * zstd-compressed (Kafka record batches). Handed over by the core so that adapters need not
   * import the archive layer.
   */
  zstd: () => Promise<(frame: Uint8Array) => Uint8Array>;
}

export interface BrokerAdapter {
  /** Stored as the manifest's source.broker: 'kafka', 'rabbitmq', 'nats'. */
  readonly name: string;
  /** For people: 'Kafka', 'RabbitMQ', 'NATS JetStream'. */
  readonly title: string;
  /** URL schemes without '://': ['kafka'], ['amqp', 'amqps']. */
  readonly schemes: readonly string[];
  /** One example URL for help texts and errors: 'kafka://host:port'. */
  readonly urlExample: string;
  /** What one stream is called in messages: 'partition', 'queue', 'stream'. */
  readonly streamNoun: string;
  /** What a selector (selectorOf) names in messages: 'topic', 'queue', 'stream'. */
  readonly selectorNoun: string;
  /**
   * The key `mqbak cat` prints a record's attributes under ('amqp'), or null when this adapter
   * stores none (Kafka: everything is in key, value and headers).
   */
  readonly attributesKey: string | null;
  readonly backupOptions: readonly AdapterOption[];
  readonly restoreOptions: readonly AdapterOption[];
  /**
   * Checks a URL and the option values without connecting: everything that can be known before
   * any work (ports, vhost syntax, option combinations) fails here with MqbakError 'usage'.
   */
  checkBackup(url: string, options: AdapterOptionValues, env: AdapterContext['env']): void;
  checkRestore(url: string, options: AdapterOptionValues, env: AdapterContext['env']): void;
  /** The URL fit to print and store: the password never appears. */
  redactUrl(url: string): string;
  /** A stream address for people: 'orders[0]', 'queue jobs', 'stream ORDERS'. */
  describe(address: StreamAddress): string;
  /**
   * The name a user selects and renames a stream by (restore --streams, --map old=new): the
   * topic, the queue, the JetStream stream. Several streams may share it (partitions).
   */
  selectorOf(address: StreamAddress): string;
  /** The address `address` is restored to when its selector is renamed to `newName`. */
  renamed(address: StreamAddress, newName: string): StreamAddress;
  openSource(url: string, options: AdapterOptionValues, ctx: AdapterContext): Promise<BrokerSource>;
  /**
   * Connects and checks what it can without the plan; creates and publishes nothing on the target
   * (prepare does, after the preflight): a restore opens its sink while the preflight reads the
   * archive, and closes it unused when the preflight fails. ctx.signal then stops the opening.
   */
  openSink(url: string, options: AdapterOptionValues, ctx: AdapterContext): Promise<BrokerSink>;
  /**
   * Loads the modules openSource ('source') or openSink ('sink') needs, without connecting or
   * reading anything. The CLI calls it while it waits for the store (an encrypted store's key
   * derivation runs off the main thread), so that loading a client library does not add to it.
   */
  preload?(role: 'source' | 'sink'): Promise<void>;
  /**
   * What a restore would do beyond publishing, for --dry-run and the result (topics to create,
   * groups to move...), without connecting; may refuse ('usage', 'not-found'). Lines for people
   * (unindented: the CLI indents them) and keys merged into the top level of restore --json.
   */
  restorePlanNotes(plan: SinkPlan, options: AdapterOptionValues): { lines: string[]; json: Record<string, unknown> };
  /**
   * How `restore --check` reads the restored targets back (core/restore-check.ts); absent: the
   * adapter cannot check a restore. Checks option values without connecting ('usage').
   */
  readBack?(plan: SinkPlan, restoreOptions: AdapterOptionValues, env: AdapterContext['env']): Promise<ReadBack>;
}

// ---------------------------------------------------------------------------------- restore --check

/**
 * What `restore --check` compares of one record; a field left undefined on either side is not
 * compared (and not digested) for that record: the target legitimately changes it (a Kafka
 * timestamp the broker set, a NATS timestamp, RabbitMQ's redelivered flag).
 */
export interface CheckedRecord {
  key?: Uint8Array | null;
  value?: Uint8Array | null;
  headers?: readonly RecordHeader[];
  timestamp?: number | null;
  /** Adapter-owned rest that must survive a restore (RabbitMQ properties, a NATS subject). */
  attributes?: JsonValue | null;
}

export interface ReadBack {
  /**
   * Backup option values under which openSource(target URL) selects exactly the plan's target
   * streams and reads them without removing anything: the check reads the targets through the
   * adapter's own backup source (log streams from the first mapped target position, snapshots
   * by a mirror read).
   */
  sourceOptions: AdapterOptionValues;
  /**
   * A record as the check compares it: an archived one with what the restore changes applied
   * (renamed headers...), or one read from the target with what the broker adds left out
   * (x-delivery-count...). `target`: the target stream's address as
   * the source selected it on the target (a RabbitMQ queue's actual type).
   */
  checked(record: ArchiveRecord, side: 'archive' | 'target', target: StreamAddress): CheckedRecord;
}

// ---------------------------------------------------------------------------------- backup

/**
 * How a stream is read:
 * - 'log': read by position without changing anything; an incremental continues at the parent's
 *   `to` (Kafka partitions, RabbitMQ stream queues, JetStream limits/interest streams);
 * - 'snapshot': everything it holds now, without removing it; never an incremental (a RabbitMQ
 *   mirror of a classic or quorum queue);
 * - 'drain': destructive; read in checkpoints, each committed as a backup of its own before
 *   `settle` acknowledges (removes) what it holds (RabbitMQ drain, JetStream work queues).
 */
export type ReadMode = 'log' | 'snapshot' | 'drain';

export interface SourceStream {
  /** Unique in a backup and stable across a chain: 'kafka/orders/0'. */
  name: string;
  address: StreamAddress;
  mode: ReadMode;
  /**
   * The first position the source still holds (log streams), or null where positions are
   * the backup's own delivery sequence (queues). A log read starts at the parent's `to`, or here
   * for a full backup; positions between the two were deleted before they were backed up and
   * become a gap in the manifest.
   */
  start: bigint | null;
  /** The cut: positions before it are read; noted before anything is read. null: unknown (queues). */
  end: bigint | null;
  /** Adapter facts stored in the manifest's stream entry (e.g. {depthAtStart}). */
  extra: Record<string, unknown>;
  /**
   * Which life of the stream this is, when the broker tells (Kafka: the topic id). Stored in the
   * entry's extra.lineage; a parent whose stream has another lineage is of a stream deleted and
   * created again under the same name: the backup becomes a new full one, with a warning.
   */
  lineage?: string;
}

export interface SourceSelection {
  /** Backups with equal chain keys form one chain: same cluster, same streams, same mode. */
  chainKey: string;
  /** Stored as the manifest's source.options: how the data was read. */
  options: Record<string, unknown>;
  streams: SourceStream[];
  /** Warnings known before reading (skipped exclusive queues...). */
  warnings: string[];
}

/** Where a source puts what it reads: the backup writer's stream, seen from the adapter. */
export interface RecordSink {
  append(record: ArchiveRecord): Promise<void>;
  appendMany(records: readonly ArchiveRecord[]): Promise<void>;
  /**
   * For adapters that parse their own wire format: no object per record. The source may reuse
   * the columns' bytes once the promise resolves: what the sink keeps, it copies before.
   */
  appendColumns(columns: RecordColumns): Promise<void>;
  /** Positions [from, to) the source no longer had when read. */
  addGap(from: bigint, to: bigint, reason: string): void;
  /** A fact about the stream, stored in its manifest entry's `extra`. */
  setExtra(key: string, value: unknown): void;
  /** A warning stored in the manifest and shown to the user. */
  warn(message: string): void;
  /**
   * The source will append nothing more to this stream in this read (it reached the cut): the
   * core stores what the stream holds now and frees its memory instead of keeping it until the
   * whole read is over, which matters with thousands of small streams. Optional for a source to
   * call (Kafka does, partition by partition); calling it more than once is harmless; appending
   * after it is refused. addGap and setExtra still count. A sink that keeps nothing (restore
   * --check's comparer) need not have it.
   */
  end?(): Promise<void>;
}

export interface ReadRequest {
  stream: SourceStream;
  /** First position to read (log: the parent's `to` or `start`; others: the next sequence number). */
  from: bigint;
  out: RecordSink;
}

export interface ReadOutcome {
  /** Exclusive end of what was read, per stream name: the manifest's `to`. */
  to: Map<string, bigint>;
  /**
   * Drain only: acknowledges (removes at the source) what this read delivered. The core calls it
   * once, after the manifest holding those records is committed, and never otherwise: a crash
   * before it leaves the messages on the broker, to be read again.
   */
  settle?: () => Promise<void>;
  /** Drain only: the stream may hold more; the core reads another checkpoint. */
  more?: boolean;
}

export interface BrokerSource {
  /** Which streams, the cut and the chain key; reads and changes nothing, refuses what it must. */
  select(): Promise<SourceSelection>;
  /**
   * Broker metadata for the manifest (configs, consumer positions, definitions), as of the cut,
   * by key (manifest.metadata[key]), and warnings about what could not be read.
   */
  metadata(selection: SourceSelection): Promise<{ metadata: Record<string, unknown>; warnings: string[] }>;
  /**
   * Reads the requested streams up to their cut into their sinks. Log and snapshot streams may
   * be read together (Kafka fetches a leader's partitions at once); a drain request is always
   * alone, and stops after `limit` records (a checkpoint), or after the adapter's own checkpoint
   * size when `limit` is absent.
   */
  read(requests: ReadRequest[], options: { signal: AbortSignal; limit?: number }): Promise<ReadOutcome>;
  /**
   * After the last read: what to tell the user. Lines for people (unindented, printed after the
   * generic summary) and,
   * per stream name, facts merged into that stream's --json entry (depthAtStart, acked...).
   */
  report(): { lines: string[]; streams: Record<string, Record<string, unknown>> };
  /** Releases everything; unsettled drain deliveries go back to the broker. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------------- restore

/** One stream of a restore: what the archive holds for it and where it goes. */
export interface PlannedTarget {
  /** The archive's stream name. */
  name: string;
  source: StreamAddress;
  target: StreamAddress;
  /** Records stored for it in the chain (before --until). */
  records: number;
  from: bigint;
  to: bigint;
}

export interface SinkPlan {
  backupId: string;
  /** The newest manifest's metadata (topic configs, groups, definitions, stream configs). */
  metadata: Record<string, unknown>;
  /** Selector renames from --map. */
  renames: Record<string, string>;
  targets: PlannedTarget[];
}

/** Adapter-owned resume state of one target stream, kept in the restore journal as JSON. */
export type JournalEntry = Record<string, unknown>;

/** What a write came to. */
export interface WriteAck {
  /** Records the broker acknowledged. */
  written: number;
  /** Records the broker refused or never confirmed (exit status 3), with the reason. */
  failed: Array<{ position: bigint; reason: string }>;
}

/** One run of consecutive source positions restored to consecutive target positions. */
export interface OffsetRun {
  stream: string;
  source: StreamAddress;
  target: StreamAddress;
  /** inclusive */
  sourceStart: bigint;
  /** inclusive */
  sourceEnd: bigint;
  targetStart: bigint;
}

export interface StreamWriter {
  /**
   * Where an interrupted earlier run of the same restore stopped, from the journal entry it
   * left, or null:
   * - `records`: the first `records` planned records are on the target already (Kafka counts
   *   them on the broker; with --repartition they are that many, a prefix of each target
   *   partition's share rather than of the stream). The core still passes every planned record to
   *   write(): the writer leaves those out itself (it maps them in its offset runs) and does not
   *   count them as written;
   * - `through`: every record through position `through` except those in `retry` was settled; the
   *   core leaves them out and passes only the others.
   */
  readonly resume: { records?: number; through?: bigint; retry?: ReadonlySet<bigint> } | null;
  /**
   * Publishes records in order; the batch is about one archive block, which the adapter cuts into
   * requests as its broker needs. Writes are applied in call order, and the core calls again
   * before the previous promise settled (at most two outstanding: the adapter encodes or publishes
   * the next batch meanwhile). An adapter may hold back the end of a write to fill its next
   * request: `written` then counts records of earlier writes. The core ends every stream with an
   * empty write([]), which sends whatever is held back and resolves once it is acknowledged.
   * Errors are thrown as they are: the core adds no context to them.
   */
  write(batch: readonly RecordSlice[], signal: AbortSignal): Promise<WriteAck>;
  /** The journal entry for what was acknowledged so far (saved periodically and at the end). */
  journal(): JournalEntry;
  /** Waits for everything in flight; the offset runs of what this run restored. */
  close(): Promise<OffsetRun[]>;
}

export interface BrokerSink {
  /**
   * Before any record is written: checks and creates the targets from the saved metadata
   * (topics with their partition counts, queue definitions, stream configs), refuses targets that
   * already hold data unless allowed, and refuses what cannot be done (active consumer groups...).
   * `journal` holds the entries an interrupted run of the same restore left, by stream name.
   */
  prepare(plan: SinkPlan, journal: ReadonlyMap<string, JournalEntry> | null, signal: AbortSignal): Promise<void>;
  /**
   * At most `parallelism` streams are written at once (Kafka pipelines partitions on one
   * connection). Read after prepare().
   */
  readonly parallelism: number;
  openStream(target: PlannedTarget, saved: JournalEntry | null, signal: AbortSignal): Promise<StreamWriter>;
  /**
   * After every stream: applies what depends on the offset map (Kafka consumer groups, JetStream
   * durable consumers). Lines for people (unindented) and keys merged into the top level of
   * restore --json (replacing restorePlanNotes' keys of the same name).
   */
  finish(runs: readonly OffsetRun[], signal: AbortSignal): Promise<{ lines: string[]; json: Record<string, unknown> }>;
  /** Warnings gathered while writing (renamed headers, dropped properties...). */
  warnings(): string[];
  close(): Promise<void>;
}
