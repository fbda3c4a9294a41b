/** The NATS JetStream building blocks the broker adapter is made of. */
export { connectNats, raceAbort, type ConnectOptions, type NatsConnection } from './connection.js';
export * from './definitions.js';
export { encodeHeaderBlock, parseHeaderBlock, unwritableHeader, type ParsedHeaderBlock } from './header-block.js';
export { dedupId, StreamPublisher, type PublishMessage, type PublishOutcome, type PublisherOptions } from './publisher.js';
export { rawHeaderBlock, rawHeaders, recordOf, type NatsRecord } from './raw-message.js';
export { readStream, type ReadBatch, type ReadOptions, type SeqRange } from './stream-reader.js';
export { describeStream, listStreams, summarize, type Retention, type StreamSummary } from './streams.js';
export { anySubjectMatches, subjectMatches, subjectRenamer, type SubjectRename } from './subjects.js';
export { DEFAULT_NATS_PORT, parseNatsUrl, redactNatsUrl, type NatsTarget } from './url.js';
export { WorkQueueReader, type WorkQueueBatch, type WorkQueueOptions } from './workqueue-reader.js';
