/**
 * The Kafka adapter's checks before connecting (src/brokers/kafka/options.ts): URL form and
 * ports, option combinations and environment switches are 'usage' errors (exit 2).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { silentProgress } from '../../../../src/common/progress.js';
import { checkBackup, checkRestore, connectionFrom, parseBrokers, redactUrl } from '../../../../src/brokers/kafka/options.js';
import { adapter } from '../../../../src/brokers/kafka/index.js';
import { usage } from '../../../helpers/usage-error.js';

const topics = { topics: ['t'] };

describe('kafka URL', () => {
  it('takes host:port lists, IPv6 in brackets, and ignores a user part', () => {
    expect(parseBrokers('kafka://a:9092')).toEqual(['a:9092']);
    expect(parseBrokers('kafka://a:9092, b:9093/')).toEqual(['a:9092', 'b:9093']);
    expect(parseBrokers('KAFKA://[::1]:9092')).toEqual(['[::1]:9092']);
    expect(parseBrokers('kafka://user@h:1')).toEqual(['h:1']);
    expect(parseBrokers('kafka://h:65535')).toEqual(['h:65535']);
  });

  it('a broker without a port gets 9092, as the Kafka tools assume', () => {
    expect(parseBrokers('kafka://host')).toEqual(['host:9092']);
    expect(parseBrokers('kafka://a:1,b')).toEqual(['a:1', 'b:9092']);
    expect(parseBrokers('kafka://[::1]')).toEqual(['[::1]:9092']);
    expect(parseBrokers('kafka://h:09093')).toEqual(['h:9093']);
    expect(() => checkRestore('kafka://host', {}, {})).not.toThrow();
  });

  it('refuses a bad or empty port, a bad host, a path, before connecting', () => {
    expect(usage(() => checkBackup('kafka://host:99999', topics, {}))).toMatch(/port 99999 is not a number from 1 to 65535/);
    expect(usage(() => checkBackup('kafka://host:abc', topics, {}))).toMatch(/port abc is not a number/);
    expect(usage(() => checkBackup('kafka://host:0', topics, {}))).toMatch(/port 0 /);
    expect(usage(() => checkBackup('kafka://host:', topics, {}))).toMatch(/port \(empty\)/);
    expect(usage(() => checkBackup('kafka://[::1]:', topics, {}))).toMatch(/port \(empty\)/);
    expect(usage(() => checkRestore('kafka://a:1,b:x', {}, {}))).toMatch(/"b:x": port x is not a number/);
    expect(usage(() => checkRestore('kafka://a:1:2', {}, {}))).toMatch(/expected host:port/);
    expect(usage(() => checkRestore('kafka://ho st:1', {}, {}))).toMatch(/"ho st:1": bad host name/);
    expect(usage(() => checkRestore('kafka://:9092', {}, {}))).toMatch(/expected host:port/);
    expect(usage(() => checkRestore('kafka://', {}, {}))).toMatch(/expected kafka:\/\/host:port/);
    expect(usage(() => checkRestore('kafka://h:1/path', {}, {}))).toMatch(/expected kafka:\/\/host:port/);
  });

  it('redacts a password', () => {
    expect(redactUrl('kafka://u:secret@h:1')).toBe('kafka://u:***@h:1');
    expect(adapter.redactUrl('kafka://h:1')).toBe('kafka://h:1');
  });
});

describe('kafka option checks', () => {
  it('backup needs topics, a known isolation level, a valid regex and known switches', () => {
    expect(usage(() => checkBackup('kafka://h:1', {}, {}))).toBe('no topics given');
    expect(() => checkBackup('kafka://h:1', { topicRegex: '^a' }, {})).not.toThrow();
    expect(usage(() => checkBackup('kafka://h:1', { topicRegex: '(' }, {}))).toMatch(/--topic-regex \(: not a valid regular expression/);
    expect(usage(() => checkBackup('kafka://h:1', { ...topics, isolation: 'dirty' }, {}))).toMatch(/--isolation dirty: expected read_committed or read_uncommitted/);
    expect(usage(() => checkBackup('kafka://h:1', topics, { MQBAK_KAFKA_CONSUMER: 'x' }))).toBe('MQBAK_KAFKA_CONSUMER=x: expected fetch or kafkajs');
    expect(() => checkBackup('kafka://h:1', { ...topics, isolation: 'read_uncommitted' }, { MQBAK_KAFKA_CONSUMER: 'kafkajs' })).not.toThrow();
  });

  it('restore refuses --groups with --all-groups and an unknown producer', () => {
    expect(usage(() => checkRestore('kafka://h:1', { groups: ['g'], allGroups: true }, {}))).toBe('--groups and --all-groups exclude each other');
    expect(usage(() => checkRestore('kafka://h:1', {}, { MQBAK_KAFKA_PRODUCER: 'fast' }))).toBe('MQBAK_KAFKA_PRODUCER=fast: expected batch or kafkajs');
    expect(() => checkRestore('kafka://h:1', {}, { MQBAK_KAFKA_PRODUCER: 'kafkajs' })).not.toThrow();
  });

  it('SASL needs a known mechanism, a user and a password from the environment', () => {
    expect(usage(() => checkRestore('kafka://h:1', { saslMechanism: 'gssapi' }, {}))).toMatch(/--sasl-mechanism gssapi/);
    expect(usage(() => checkRestore('kafka://h:1', { saslMechanism: 'plain' }, {}))).toMatch(/needs a user name/);
    expect(usage(() => checkRestore('kafka://h:1', { saslMechanism: 'plain', saslUsername: 'u' }, {}))).toMatch(/password in the environment variable MQBAK_KAFKA_SASL_PASSWORD/);
    expect(usage(() => checkRestore('kafka://h:1', { saslUsername: 'u', saslPasswordEnv: 'PW' }, { MQBAK_KAFKA_SASL_MECHANISM: 'scram-sha-256' }))).toMatch(/variable PW/);
    expect(() => checkRestore('kafka://h:1', { saslUsername: 'u', saslPasswordEnv: 'PW' }, { MQBAK_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256', PW: 'x' })).not.toThrow();
  });

  it('SASL and TLS options that would be ignored are refused', () => {
    expect(usage(() => checkRestore('kafka://h:1', { saslUsername: 'u' }, {}))).toBe('--sasl-username needs --sasl-mechanism');
    expect(usage(() => checkRestore('kafka://h:1', { saslPasswordEnv: 'PW' }, {}))).toBe('--sasl-password-env needs --sasl-mechanism');
    // filled in from the environment by the CLI: not the user's command line, not refused
    expect(() => checkRestore('kafka://h:1', { saslUsername: 'u' }, { MQBAK_KAFKA_SASL_USERNAME: 'u' })).not.toThrow();
    expect(usage(() => checkRestore('kafka://h:1', { tlsInsecure: true }, {}))).toBe('--tls-insecure needs TLS (--tls)');
    expect(usage(() => checkRestore('kafka://h:1', { tlsKey: '/k.pem' }, {}))).toBe('--tls-key needs --tls-cert');
  });
});

describe('kafka connection settings', () => {
  const quiet = { progress: silentProgress, debug: false };

  it('options first, then MQBAK_KAFKA_* variables; the SASL password only from the environment', async () => {
    const c = await connectionFrom('kafka://a:1,b:2', { saslUsername: 'u' }, { MQBAK_KAFKA_CLIENT_ID: 'cid', MQBAK_KAFKA_SASL_MECHANISM: 'plain', MQBAK_KAFKA_SASL_USERNAME: 'ignored', MQBAK_KAFKA_SASL_PASSWORD: 'pw' }, quiet);
    expect([c.brokers, c.clientId, c.sasl, c.tls]).toEqual([['a:1', 'b:2'], 'cid', { mechanism: 'plain', username: 'u', password: 'pw' }, undefined]);
    expect((await connectionFrom('kafka://a:1', { clientId: 'opt' }, { MQBAK_KAFKA_CLIENT_ID: 'env' }, quiet)).clientId).toBe('opt');
    expect((await connectionFrom('kafka://a:1', {}, {}, quiet)).clientId).toBe('mqbak');
  });

  it('TLS: on with --tls, MQBAK_KAFKA_TLS=1 or a CA; files read; a client certificate variable alone does not turn it on', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'mqbak-kafka-tls-'));
    try {
      const ca = path.join(dir, 'ca.pem');
      await writeFile(ca, 'CA PEM');
      expect((await connectionFrom('kafka://a:1', {}, { MQBAK_KAFKA_TLS_CA: ca }, quiet)).tls).toEqual({ ca: 'CA PEM', cert: undefined, key: undefined, rejectUnauthorized: true });
      expect((await connectionFrom('kafka://a:1', { tlsInsecure: true }, { MQBAK_KAFKA_TLS: '1' }, quiet)).tls).toEqual({ ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: false });
      expect((await connectionFrom('kafka://a:1', {}, { MQBAK_KAFKA_TLS: '0', MQBAK_KAFKA_TLS_CERT: ca }, quiet)).tls).toBeUndefined();
      await expect(connectionFrom('kafka://a:1', { tls: true, tlsKey: path.join(dir, 'missing.pem') }, {}, quiet)).rejects.toMatchObject({ code: 'usage', message: expect.stringMatching(/^--tls-key .*missing\.pem: /) });
      // checked without connecting, as every other option: missing, a folder, a lone half of a pair
      expect(usage(() => checkBackup('kafka://a:1', { ...topics, tlsCa: path.join(dir, 'missing.pem') }, {}))).toMatch(/^--tls-ca .*missing\.pem: cannot read it \(ENOENT\)$/);
      expect(usage(() => checkRestore('kafka://a:1', { tls: true, tlsCa: dir }, {}))).toMatch(/^--tls-ca .*: not a file$/);
      expect(usage(() => checkRestore('kafka://a:1', { tlsCert: ca }, {}))).toBe('--tls-cert needs --tls-key (or MQBAK_KAFKA_TLS_KEY)');
      expect(usage(() => checkRestore('kafka://a:1', { tls: true }, { MQBAK_KAFKA_TLS_KEY: ca }))).toBe('--tls-key (MQBAK_KAFKA_TLS_KEY) needs --tls-cert');
      expect((await connectionFrom('kafka://a:1', { tlsCert: ca, tlsKey: ca }, {}, quiet)).tls).toMatchObject({ cert: 'CA PEM', key: 'CA PEM' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
