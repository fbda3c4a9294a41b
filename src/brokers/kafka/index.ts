/**
 * The Kafka adapter's folder seen from outside: the adapter (adapter.ts, what the registry
 * loads) for tests and tools that import the folder.
 */
export { adapter, default } from './adapter.js';
