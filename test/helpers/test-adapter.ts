/**
 * A broker adapter for core's unit tests (backup, restore, restore --check): a "test" broker whose
 * streams are addressed as {stream}, with no options; each test gives the parts it scripts
 * (openSource, openSink, readBack, restorePlanNotes). What it does not give throws if called.
 */
import type { BrokerAdapter } from '../../src/brokers/adapter.js';

export function testAdapter(parts: Partial<BrokerAdapter>): BrokerAdapter {
  return {
    name: 'test',
    title: 'Test',
    schemes: ['test'],
    urlExample: 'test://host',
    streamNoun: 'stream',
    selectorNoun: 'stream',
    attributesKey: null,
    backupOptions: [],
    restoreOptions: [],
    checkBackup() {},
    checkRestore() {},
    redactUrl: (u) => u,
    describe: (a) => `stream ${String(a.stream)}`,
    selectorOf: (a) => String(a.stream),
    renamed: (a, n) => ({ ...a, stream: n }),
    openSource: async () => {
      throw new Error('not in this test');
    },
    openSink: async () => {
      throw new Error('not in this test');
    },
    restorePlanNotes: () => ({ lines: [], json: {} }),
    ...parts,
  };
}
