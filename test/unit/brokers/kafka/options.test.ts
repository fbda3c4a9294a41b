/**
 * The Kafka adapter's checks before connecting (src/brokers/kafka/options.ts): URL form and
 * ports, option combinations and environment switches are 'usage' errors (exit 2).
 */
import { describe, expect, it } from 'vitest';
import { MqbakError } from '../../../../src/common/errors.js';
import { checkBackup, checkRestore, parseBrokers, redactUrl } from '../../../../src/brokers/kafka/options.js';
import { adapter } from '../../../../src/brokers/kafka/index.js';

function usage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('usage');
    return (e as MqbakError).message;
  }
  throw new Error('expected a usage error');
}

const topics = { topics: ['t'] };

describe('kafka URL', () => {
  it('takes host:port lists, IPv6 in brackets, and ignores a user part', () => {
    expect(parseBrokers('kafka://a:9092')).toEqual(['a:9092']);
    expect(parseBrokers('kafka://a:9092, b:9093/')).toEqual(['a:9092', 'b:9093']);
    expect(parseBrokers('KAFKA://[::1]:9092')).toEqual(['[::1]:9092']);
    expect(parseBrokers('kafka://user@h:1')).toEqual(['h:1']);
    expect(parseBrokers('kafka://h:65535')).toEqual(['h:65535']);
  });

  it('refuses a bad or missing port before connecting', () => {
    expect(usage(() => checkBackup('kafka://host:99999', topics, {}))).toMatch(/port 99999 is not a number from 1 to 65535/);
    expect(usage(() => checkBackup('kafka://host:abc', topics, {}))).toMatch(/port abc is not a number/);
    expect(usage(() => checkBackup('kafka://host:0', topics, {}))).toMatch(/port 0 /);
    expect(usage(() => checkBackup('kafka://host:', topics, {}))).toMatch(/port \(empty\)/);
    expect(usage(() => checkRestore('kafka://host', {}, {}))).toMatch(/kafka broker "host": expected host:port/);
    expect(usage(() => checkRestore('kafka://a:1,b', {}, {}))).toMatch(/"b": expected host:port/);
    expect(usage(() => checkRestore('kafka://a:1:2', {}, {}))).toMatch(/expected host:port/);
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
});
