/**
 * The NATS adapter's folder seen from outside: the adapter (adapter.ts) and its building blocks,
 * for the tests that drive them against the real server. The registry loads adapter.ts, not this
 * file, so a command never loads the modules re-exported here unless it opens a NATS source or
 * sink.
 */
export { adapter, default } from './adapter.js';
export { connectNats, raceAbort, type ConnectOptions, type NatsConnection } from './connection.js';
export * from './definitions.js';
export { encodeHeaderBlock, parseHeaderBlock, unwritableHeader, type ParsedHeaderBlock } from './header-block.js';
export { StreamPublisher, type PublishMessage, type PublishOutcome, type PublisherOptions } from './publisher.js';
export { rawHeaderBlock, rawHeaders, recordOf, type NatsRecord } from './raw-message.js';
export { readStream, readStreamColumns, type ColumnReadBatch, type ReadBatch, type ReadOptions, type SeqRange } from './stream-reader.js';
export { describeStream, listStreams, summarize, type Retention, type StreamSummary } from './streams.js';
export { anySubjectMatches, subjectMatches, subjectRenamer, type SubjectRename } from './subjects.js';
export { DEFAULT_NATS_PORT, parseNatsUrl, redactNatsUrl, type NatsTarget } from './url.js';
export { WorkQueueReader, type WorkQueueBatch, type WorkQueueOptions } from './workqueue-reader.js';
