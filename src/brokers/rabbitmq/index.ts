/**
 * The RabbitMQ adapter's folder seen from outside: the adapter (adapter.ts) and building blocks
 * for the tests that set up and inspect queues on the real broker (test/e2e, test/integration).
 * The registry loads adapter.ts, not this file, so a command never loads the connection and
 * consumer modules re-exported here unless it opens a RabbitMQ source or sink.
 */
export { adapter, default } from './adapter.js';
export { connectRabbit, rawPropertiesOf, type RabbitConnection } from './connection.js';
export { QueueConsumer, queueDepth } from './consumer.js';
