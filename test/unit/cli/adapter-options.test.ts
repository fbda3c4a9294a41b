import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import type { AdapterOption, BrokerAdapter } from '../../../src/brokers/adapter.js';
import { addAdapterOptions, adapterOptionValues } from '../../../src/cli/adapter-options.js';
import { MqbakError } from '../../../src/common/errors.js';

describe('adapter options', () => {
  const adapter = (name: string, title: string, backupOptions: AdapterOption[]): BrokerAdapter => ({ name, title, backupOptions, restoreOptions: [] }) as unknown as BrokerAdapter;
  const a = adapter('a', 'Alpha', [
    { flags: '--topics <a,b>', description: 'x', kind: 'list' },
    { flags: '--isolation <level>', description: 'x', choices: ['read_committed', 'read_uncommitted'] },
    { flags: '--hold <s>', description: 'x', kind: 'seconds', env: 'A_HOLD' },
  ]);
  const b = adapter('b', 'Beta', [
    { flags: '--queues <a,b>', description: 'x', kind: 'list' },
    { flags: '--all-queues', description: 'x', kind: 'flag' },
  ]);
  it('registers each flag once, parsed by its kind', () => {
    const cmd = new Command('backup').exitOverride();
    addAdapterOptions(cmd, [a, b, a], 'backup');
    expect(cmd.options.map((o) => o.long)).toEqual(['--topics', '--isolation', '--hold', '--queues', '--all-queues']);
    cmd.parse(['--topics', 'x, y', '--hold', '1.5'], { from: 'user' });
    expect(cmd.opts()).toEqual({ topics: ['x', 'y'], hold: 1.5 });
  });
  it('gives the URL\'s adapter its values, from the environment when absent; checks choices', () => {
    expect(adapterOptionValues(a, [a, b], 'backup', { topics: ['t'], json: true }, { A_HOLD: '30' })).toEqual({ topics: ['t'], hold: 30 });
    expect(() => adapterOptionValues(a, [a, b], 'backup', { isolation: 'dirty' }, {})).toThrow('--isolation dirty: expected read_committed or read_uncommitted');
    expect(() => adapterOptionValues(a, [a, b], 'backup', {}, { A_HOLD: 'soon' })).toThrow(/A_HOLD=soon/);
  });
  it('refuses an option of another adapter (usage: exit 2) instead of ignoring it', () => {
    try {
      adapterOptionValues(a, [a, b], 'backup', { allQueues: true }, {});
      expect.unreachable();
    } catch (e) {
      expect((e as MqbakError).code).toBe('usage');
      expect((e as MqbakError).message).toBe('--all-queues is an option of Beta, not of Alpha sources');
    }
  });
  it('refuses a generic alias named after another broker\'s streams (restore --queues on a topic broker)', () => {
    const k = { name: 'k', title: 'Kafka', selectorNoun: 'topic', backupOptions: [], restoreOptions: [] } as unknown as BrokerAdapter;
    const r = { name: 'r', title: 'RabbitMQ', selectorNoun: 'queue', backupOptions: [], restoreOptions: [] } as unknown as BrokerAdapter;
    const n = { name: 'n', title: 'NATS', selectorNoun: 'stream', backupOptions: [], restoreOptions: [] } as unknown as BrokerAdapter;
    expect(adapterOptionValues(k, [k, r, n], 'restore', { topics: ['t'], streams: ['s'] }, {})).toEqual({});
    expect(adapterOptionValues(r, [k, r, n], 'restore', { queues: ['q'] }, {})).toEqual({});
    expect(() => adapterOptionValues(k, [k, r, n], 'restore', { queues: ['q'] }, {})).toThrow(expect.objectContaining({ code: 'usage', message: '--queues is an option of RabbitMQ, not of Kafka targets' }));
    expect(() => adapterOptionValues(r, [k, r, n], 'restore', { topics: ['t'] }, {})).toThrow('--topics is an option of Kafka, not of RabbitMQ targets');
    expect(() => adapterOptionValues(n, [k, r, n], 'restore', { topics: ['t'] }, {})).toThrow('--topics is an option of Kafka, not of NATS targets');
    expect(() => adapterOptionValues(n, [k, r, n], 'restore', { queues: ['q'] }, {})).toThrow('--queues is an option of RabbitMQ, not of NATS targets');
  });
});

describe("every option of another broker, with the real adapters", () => {
  it('each adapter refuses, for backup and restore, every option only other adapters declare, and the other brokers\' aliases of --streams', async () => {
    const { allAdapters } = await import('../../../src/brokers/registry.js');
    const adapters = await allAdapters();
    let refusedCount = 0;
    for (const role of ['backup', 'restore'] as const) {
      const cmd = new Command(role);
      // restore's generic options, as main.ts registers them before the adapters'
      if (role === 'restore') cmd.option('--streams <a,b>').option('--topics <a,b>').option('--queues <a,b>');
      addAdapterOptions(cmd, adapters, role);
      for (const adapter of adapters) {
        const own = new Set((role === 'backup' ? adapter.backupOptions : adapter.restoreOptions).map((o) => new Command().createOption(o.flags).attributeName()));
        if (role === 'restore') own.add('streams').add(adapter.selectorNoun === 'topic' ? 'topics' : adapter.selectorNoun === 'queue' ? 'queues' : 'streams');
        for (const o of cmd.options) {
          const key = o.attributeName();
          if (own.has(key)) continue;
          const value = o.required || o.optional ? 'x' : true;
          expect(() => adapterOptionValues(adapter, adapters, role, { [key]: value }, {}), `${role} ${adapter.name} ${o.long}`).toThrow(
            expect.objectContaining({ code: 'usage', message: expect.stringMatching(new RegExp(`^${o.long} is an option of .+, not of ${adapter.title} ${role === 'backup' ? 'sources' : 'targets'}$`)) }),
          );
          refusedCount++;
        }
      }
    }
    // Kafka --groups/--all-groups/--allow-nonempty on RabbitMQ, --mode/--checkpoint on Kafka... and the aliases
    expect(refusedCount).toBeGreaterThan(30);
  });
});
