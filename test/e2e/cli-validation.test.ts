/**
 * Every bad value gets its answer before any work: the binary exits 2 with one `mqbak: error:`
 * line (and at most one `hint:`), no stack trace, and nothing written, without connecting
 * anywhere. Brokers and S3 endpoints here are ports where nothing listens: a command that
 * connected before checking would exit 5 instead (or 10, finding no backup, or 1). The offset map
 * is tried against the Kafka test broker: refused before anything is published, never left empty
 * or half written by a restore that fails.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { kafkaCreateTopic, uniqueName } from '../helpers/brokers.js';
import { kafka, produceVaried, url, useTempDirs } from '../helpers/kafka-e2e.js';
import { runMqbak, type RunResult } from '../helpers/run-mqbak.js';

const tempDir = useTempDirs();

const KAFKA = 'kafka://127.0.0.1:1';
const AMQP = 'amqp://guest:guest@127.0.0.1:1/%2F';
const AMQP_MGMT = ['--management-url', 'http://127.0.0.1:1'];
const NATS = 'nats://127.0.0.1:1';
const S3 = ['s3://mqbak-validation/p', '--s3-endpoint', 'http://127.0.0.1:1', '--s3-path-style'];
// one attempt per S3 request, so that a command connecting first fails fast (exit 5), not slowly
const S3_ENV = { AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', MQBAK_S3_MAX_ATTEMPTS: '1', MQBAK_PUSHGATEWAY_URL: '' };

/** Exit 2, one error line matching `message`, at most one hint, nothing else on stderr or stdout. */
function refused(r: RunResult, message: RegExp): void {
  const lines = r.stderr.trimEnd().split('\n');
  expect({ code: r.code, first: lines[0] }, r.stderr).toEqual({ code: 2, first: expect.stringMatching(message) });
  expect(lines.filter((l) => l.startsWith('mqbak: error:'))).toHaveLength(1);
  expect(lines.slice(1).every((l) => l.startsWith('hint: ')), r.stderr).toBe(true);
  expect(lines.length).toBeLessThanOrEqual(2);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
}

/** [what, args (STORE: a folder that must not come into being), the error it must give] */
type Case = [string, string[], RegExp];

const BROKER_CASES: Case[] = [
  ['--level above 9', ['backup', KAFKA, 'STORE', '--topics', 't', '--level', '99'], /--level .*'99' is invalid\. expected a whole number from 1 to 9/],
  ['a missing --tls-ca file', ['backup', KAFKA, 'STORE', '--topics', 't', '--tls-ca', '/nonexistent/ca.pem'], /--tls-ca \/nonexistent\/ca\.pem: cannot read it \(ENOENT\)/],
  ['--tls-insecure without TLS', ['backup', KAFKA, 'STORE', '--topics', 't', '--tls-insecure'], /--tls-insecure needs TLS/],
  ['--sasl-username without a mechanism', ['backup', KAFKA, 'STORE', '--topics', 't', '--sasl-username', 'u'], /--sasl-username needs --sasl-mechanism/],
  ['--metrics-job without a Pushgateway', ['backup', KAFKA, 'STORE', '--topics', 't', '--metrics-job', 'nightly'], /--metrics-job applies to --pushgateway only/],
  ['a missing --password-file', ['backup', KAFKA, 'STORE', '--topics', 't', '--password-file', '/nonexistent/pw'], /--password-file \/nonexistent\/pw: cannot read it/],
  ['an AMQP URL with an empty port', ['backup', 'amqp://guest:guest@127.0.0.1:/%2F', 'STORE', '--queues', 'q', ...AMQP_MGMT], /AMQP URL amqp:\/\/guest@127\.0\.0\.1:\/%2F: port \(empty\) is not a number/],
  ['an AMQP URL with port 0', ['backup', 'amqp://127.0.0.1:0/%2F', 'STORE', '--queues', 'q', ...AMQP_MGMT], /port 0 is not a number from 1 to 65535/],
  ['an AMQP vhost with bad %-encoding', ['backup', 'amqp://127.0.0.1:1/%zz', 'STORE', '--queues', 'q', ...AMQP_MGMT], /bad %-encoding in the vhost/],
  ['a --management-url that is not http', ['backup', AMQP, 'STORE', '--queues', 'q', '--management-url', 'ftp://127.0.0.1:1'], /--management-url .*expected an http/],
  ['RabbitMQ --checkpoint without drain', ['backup', AMQP, 'STORE', '--queues', 'q', '--checkpoint', '5', ...AMQP_MGMT], /--checkpoint applies to --mode drain only/],
  ['--accept-redelivery-risk with drain', ['backup', AMQP, 'STORE', '--queues', 'q', '--mode', 'drain', '--accept-redelivery-risk', ...AMQP_MGMT], /--accept-redelivery-risk applies to --mode mirror only/],
  ['NATS --checkpoint without drain', ['backup', NATS, 'STORE', '--streams', 'S', '--checkpoint', '5'], /--checkpoint applies to --mode drain only/],
  // restore: STORE is an empty folder here (created below), so "no backup" (exit 10) is what connecting or reading first gives
  ['--queues on a Kafka target', ['restore', 'STORE', KAFKA, '--queues', 'orders'], /--queues is an option of RabbitMQ, not of Kafka targets/],
  ['--topics on a RabbitMQ target', ['restore', 'STORE', AMQP, '--topics', 'orders', ...AMQP_MGMT], /--topics is an option of Kafka, not of RabbitMQ targets/],
  ['--topics on a NATS target', ['restore', 'STORE', NATS, '--topics', 'orders'], /--topics is an option of Kafka, not of NATS JetStream targets/],
  ['--queues on a NATS target', ['restore', 'STORE', NATS, '--queues', 'jobs'], /--queues is an option of RabbitMQ, not of NATS JetStream targets/],
  ['an --until that is not ISO 8601', ['restore', 'STORE', KAFKA, '--until', '5'], /--until 5: expected an ISO 8601 time/],
  ['an --until time without its zone', ['restore', 'STORE', KAFKA, '--until', '2026-11-24T23:00'], /--until 2026-11-24T23:00: expected an ISO 8601 time/],
  ['a malformed --backup id', ['restore', 'STORE', KAFKA, '--backup', 'yesterday'], /--backup "yesterday": not a backup id/],
  ['--offset-map in a missing folder', ['restore', 'STORE', KAFKA, '--offset-map', '/nonexistent/dir/map.jsonl'], /--offset-map \/nonexistent\/dir\/map\.jsonl: folder \/nonexistent\/dir does not exist/],
  ['--offset-map that is a folder', ['restore', 'STORE', KAFKA, '--offset-map', 'STORE'], /--offset-map .*: .* is a folder/],
  ['--offset-map where nothing can be created', ['restore', 'STORE', KAFKA, '--offset-map', '/sys/mqbak-map.jsonl'], /--offset-map \/sys\/mqbak-map\.jsonl: cannot create a file in \/sys \((EACCES|EROFS|EPERM)\)/],
  ['an empty --offset-map', ['restore', 'STORE', KAFKA, '--offset-map', ''], /--offset-map: empty path/],
  ['--journal where nothing can be created', ['restore', 'STORE', KAFKA, '--journal', '/sys/mqbak-journal.json'], /restore journal \/sys\/mqbak-journal\.json: cannot create a file in \/sys/],
];

const STORE_CASES: Case[] = [
  ['a malformed backup id for verify', ['verify', ...S3, 'not-an-id'], /backup "not-an-id": not a backup id/],
  ['a malformed backup id for show', ['show', ...S3, '../x'], /backup "\.\.\/x": not a backup id/],
  ['a malformed backup id for cat', ['cat', ...S3, '20261125'], /backup "20261125": not a backup id/],
  ['a malformed --keep-id', ['forget', ...S3, '--keep-last', '1', '--keep-id', 'latest'], /--keep-id "latest": not a backup id/],
  ['--grace without --prune', ['forget', ...S3, '--keep-last', '1', '--grace', '1h'], /--grace applies to --prune only/],
  ['a region the SDK refuses', ['list', ...S3, '--s3-region', 'eu west'], /S3 region "eu west": expected a name such as eu-west-1/],
  ['an endpoint that is not http', ['list', ...S3, '--s3-endpoint', 'ftp://127.0.0.1:1'], /S3 endpoint "ftp:\/\/127\.0\.0\.1:1": expected an http/],
  ['a missing --password-file', ['list', ...S3, '--password-file', '/nonexistent/pw'], /--password-file \/nonexistent\/pw: cannot read it/],
  ['a malformed key id', ['key', 'remove', ...S3, 'key-1', '--password-file', 'PWFILE'], /key "key-1": not a key id/],
  ['a missing --new-password-file', ['key', 'add', ...S3, '--password-file', 'PWFILE', '--new-password-file', '/nonexistent/new'], /--new-password-file \/nonexistent\/new: cannot read it/],
];

describe('bad values are refused before anything connects', () => {
  it.concurrent.each(BROKER_CASES)('%s: exit 2 at once, no store made', async (_what, args, message) => {
    const dir = await tempDir();
    const store = path.join(dir, 'store');
    // a restore reads an existing (empty) store; a backup's store must not come into being
    if (args[0] === 'restore') await mkdir(store);
    const r = await runMqbak(
      args.map((a) => (a === 'STORE' ? store : a)),
      { env: { XDG_STATE_HOME: dir, MQBAK_PUSHGATEWAY_URL: '' }, timeoutMs: 60_000 },
    );
    refused(r, message);
    if (args[0] === 'restore') expect(await readdir(store)).toEqual([]);
    else expect(existsSync(store)).toBe(false);
    // the offset map's temporary file is gone too
    expect((await readdir(dir)).filter((f) => f.includes('mqbak-tmp'))).toEqual([]);
  });

  it.concurrent.each(STORE_CASES)('%s: exit 2 without reaching S3', async (_what, args, message) => {
    const dir = await tempDir();
    const pw = path.join(dir, 'pw');
    await writeFile(pw, 'secret\n');
    const r = await runMqbak(
      args.map((a) => (a === 'PWFILE' ? pw : a)),
      { env: S3_ENV, timeoutMs: 60_000 },
    );
    refused(r, message);
  });
});

describe('--offset-map against the Kafka test broker', () => {
  it('a map in a missing folder is refused before anything is published; a failed restore leaves no map; a good one is renamed into place', async () => {
    const dir = await tempDir();
    const topic = uniqueName('om');
    await kafkaCreateTopic(topic, 2);
    await produceVaried(topic, 2, 20);
    const b = await runMqbak(['backup', url(), dir, '--topics', topic]);
    expect(b.code, b.stderr).toBe(0);
    const target = `${topic}-copy`;
    const env = { XDG_STATE_HOME: dir };
    const manifests = await readdir(path.join(dir, 'manifests'));

    // today's code published all 20 records, then failed writing the map
    const bad = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--offset-map', path.join(dir, 'no-such-folder', 'map.jsonl')], { env });
    refused(bad, /--offset-map .*no-such-folder\/map\.jsonl: folder .*no-such-folder does not exist/);
    const admin = kafka().admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).not.toContain(target);
    } finally {
      await admin.disconnect();
    }
    expect(existsSync(path.join(dir, 'mqbak', 'restores'))).toBe(false); // no journal: the restore never started
    expect(await readdir(path.join(dir, 'manifests'))).toEqual(manifests);

    // a restore that fails (nothing listens there) leaves neither an empty map nor its temporary file
    const mapFile = path.join(dir, 'map.jsonl');
    const down = await runMqbak(['restore', dir, 'kafka://127.0.0.1:1', '--map', `${topic}=${target}`, '--offset-map', mapFile], { env });
    expect(down.code, down.stderr).toBe(5);
    expect(existsSync(mapFile)).toBe(false);
    expect((await readdir(dir)).filter((f) => f.includes('mqbak-tmp'))).toEqual([]);

    const ok = await runMqbak(['restore', dir, url(), '--map', `${topic}=${target}`, '--offset-map', mapFile], { env });
    expect(ok.code, ok.stderr).toBe(0);
    const runs = (await readFile(mapFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { target: { topic: string } });
    expect(runs.map((x) => x.target.topic)).toEqual([target, target]);
    expect((await readdir(dir)).filter((f) => f.includes('mqbak-tmp'))).toEqual([]);
  });
});
