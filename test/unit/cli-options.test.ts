import { describe, expect, it } from 'vitest';
import { byteSize, commaList, positiveInt } from '../../src/cli/options/common.js';
import { parseStoreUrl } from '../../src/stores/open.js';
import { Command } from 'commander';
import { ADAPTERS, adapterForUrl, allAdapters, registrationForUrl, schemeOf } from '../../src/brokers/registry.js';
import type { AdapterOption, BrokerAdapter } from '../../src/brokers/adapter.js';
import { addAdapterOptions, adapterOptionValues } from '../../src/cli/adapter-options.js';
import { s3ConfigFrom } from '../../src/cli/store.js';
import { exitCodeFor, EXIT } from '../../src/cli/exit-codes.js';
import { MqbakError, withContext } from '../../src/common/errors.js';

describe('option parsers', () => {
  it('byteSize reads plain numbers and k/m/g suffixes as powers of 1024', () => {
    expect(byteSize('1048576')).toBe(1048576);
    expect(byteSize('512k')).toBe(512 * 1024);
    expect(byteSize('64m')).toBe(64 * 1024 * 1024);
    expect(byteSize('1GiB')).toBe(1024 ** 3);
    expect(() => byteSize('lots')).toThrow(/size/);
    expect(() => byteSize('0')).toThrow();
  });
  it('commaList trims and drops empty items', () => {
    expect(commaList(' a, b,,c ')).toEqual(['a', 'b', 'c']);
  });
  it('positiveInt refuses zero, negatives and fractions', () => {
    expect(positiveInt('7')).toBe(7);
    for (const bad of ['0', '-1', '1.5', 'x']) expect(() => positiveInt(bad)).toThrow();
  });
});

describe('store URLs', () => {
  it('parses folders, file:// and s3://bucket/prefix', () => {
    expect(parseStoreUrl('./backups')).toEqual({ kind: 'local', path: './backups', prefix: '' });
    expect(parseStoreUrl('file:///var/backups/mq%20x')).toEqual({ kind: 'local', path: '/var/backups/mq x', prefix: '' });
    expect(parseStoreUrl('s3://ops/mq/nightly/')).toEqual({ kind: 's3', path: 'ops', prefix: 'mq/nightly' });
    expect(parseStoreUrl('s3://ops')).toEqual({ kind: 's3', path: 'ops', prefix: '' });
  });
  it('refuses unknown schemes and an empty bucket with a usage error', () => {
    expect(() => parseStoreUrl('ftp://x/y')).toThrow(MqbakError);
    try {
      parseStoreUrl('s3:///prefix');
      expect.unreachable();
    } catch (e) {
      expect((e as MqbakError).code).toBe('usage');
    }
  });
});

describe('S3 settings', () => {
  it('options win over MQBAK_* variables, which win over the AWS SDK variables', () => {
    const env = { MQBAK_S3_ENDPOINT: 'http://env:9000', AWS_ENDPOINT_URL_S3: 'http://aws:9000', MQBAK_S3_PATH_STYLE: '1', AWS_REGION: 'eu-west-1' };
    expect(s3ConfigFrom({ s3Endpoint: 'http://opt:9000' }, env)).toMatchObject({ endpoint: 'http://opt:9000', forcePathStyle: true, region: 'eu-west-1' });
    expect(s3ConfigFrom({}, env).endpoint).toBe('http://env:9000');
    expect(s3ConfigFrom({}, { AWS_ENDPOINT_URL_S3: 'http://aws:9000' }).endpoint).toBe('http://aws:9000');
  });
  it('takes the checksum mode from the option, MQBAK_S3_CHECKSUM or AWS_REQUEST_CHECKSUM_CALCULATION', () => {
    expect(s3ConfigFrom({ s3Checksum: 'when-required' }, {}).checksum).toBe('when-required');
    expect(s3ConfigFrom({}, { MQBAK_S3_CHECKSUM: 'when-supported' }).checksum).toBe('when-supported');
    expect(s3ConfigFrom({}, { AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED' }).checksum).toBe('when-required');
    expect(() => s3ConfigFrom({ s3Checksum: 'sometimes' }, {})).toThrow(/when-required or when-supported/);
  });
});

describe('broker registry', () => {
  it('finds the adapter by the URL scheme, case-insensitively', () => {
    expect(schemeOf('kafka://a:1')).toBe('kafka');
    expect(schemeOf('AMQPS://a')).toBe('amqps');
    expect(schemeOf('localhost:9092')).toBeNull();
    expect(registrationForUrl('kafka://a:1')?.name).toBe('kafka');
    expect(registrationForUrl('amqps://u@h/v')?.name).toBe('rabbitmq');
    expect(registrationForUrl('http://a')).toBeNull();
  });
  it('an unknown scheme is a usage error listing every adapter\'s example URL', async () => {
    const e = await adapterForUrl('mqtt://localhost', 'backup source').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('usage');
    expect((e as MqbakError).message).toBe('backup source "mqtt://localhost": expected kafka://host:port or amqp://user:pass@host:port/vhost');
  });
  it('every registry line loads the adapter it names, and adapters redact passwords', async () => {
    for (const a of await allAdapters()) {
      expect(ADAPTERS.find((r) => r.name === a.name)?.schemes).toEqual(a.schemes);
      expect(a.redactUrl(`${a.schemes[0]}://admin:s3cret@host:1/x`)).not.toContain('s3cret');
    }
  });
});

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
});

describe('exit codes', () => {
  it('map every error code to the documented status', () => {
    expect(exitCodeFor('usage')).toBe(EXIT.usage);
    expect(exitCodeFor('partial')).toBe(3);
    expect(exitCodeFor('integrity')).toBe(4);
    expect(exitCodeFor('unreachable')).toBe(5);
    expect(exitCodeFor('not-found')).toBe(10);
    expect(exitCodeFor('interrupted')).toBe(130);
    expect(exitCodeFor('internal')).toBe(1);
  });
  it('withContext keeps the code and hint and prefixes the message', () => {
    const e = withContext(new MqbakError('integrity', 'bad block 3', { hint: 'h' }), 'read segment a/b');
    expect(e.code).toBe('integrity');
    expect(e.hint).toBe('h');
    expect(e.message).toBe('read segment a/b: bad block 3');
    expect(withContext(new Error('boom'), 'x', 'unreachable').code).toBe('unreachable');
  });
});
