/**
 * The suites every broker adapter must pass against its real broker (as test/contract/
 * store-contract.ts is for stores). They drive the adapter's BrokerSource and BrokerSink directly,
 * the way src/core's pipelines do, with an in-memory RecordSink instead of the backup writer.
 *
 * Usage from a test file (test/integration/<broker>-adapter.contract.test.ts):
 *   brokerContract('kafka', async () => ({ adapter, modes: ['log'], source: ..., sink: ..., cleanup }));
 *
 * Records are told apart by their values: a fixture publishes the UTF-8 text of 0, 1, 2, ... in
 * publish order, so the suites can check order within a stream and completeness over streams.
 * The fixture's shape is in broker-fixture.ts; the suites in broker-source-contract.ts and
 * broker-sink-contract.ts.
 */
import type { BrokerFixture } from './broker-fixture.js';
import { brokerSinkContract } from './broker-sink-contract.js';
import { brokerSourceContract } from './broker-source-contract.js';

export { MemoryRecordSink, valueOf, type BrokerFixture, type SinkFixture, type SourceFixture } from './broker-fixture.js';

export function brokerContract(name: string, make: () => Promise<BrokerFixture>): void {
  brokerSourceContract(name, make);
  brokerSinkContract(name, make);
}
