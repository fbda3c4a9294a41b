/**
 * The command-line checks main() runs before a command loads (src/cli/command-checks.ts): every
 * finding a usage error, found without a broker, a store or the network.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkCommandLine } from '../../../src/cli/command-checks.js';
import { usage } from '../../helpers/usage-error.js';

const ID = '20261125T020000000Z-1a2b3c';

describe('command-line checks', () => {
  let dir = '';
  let pw = '';
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mqbak-checks-'));
    pw = path.join(dir, 'pw');
    await writeFile(pw, 'secret\n');
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts good command lines', () => {
    expect(() => checkCommandLine('show', ['./s', ID], {}, {})).not.toThrow();
    expect(() => checkCommandLine('verify', ['./s'], {}, {})).not.toThrow();
    expect(() => checkCommandLine('restore', ['./s', 'kafka://h'], { backup: 'latest' }, {})).not.toThrow();
    expect(() => checkCommandLine('forget', ['./s'], { keepId: [ID], grace: '1h', prune: true }, {})).not.toThrow();
    expect(() => checkCommandLine('backup', ['kafka://h', './s'], { metricsJob: 'j' }, { MQBAK_PUSHGATEWAY_URL: 'http://pg:9091' })).not.toThrow();
    expect(() => checkCommandLine('key remove', ['./s', '0a1b2c3d'], { passwordFile: pw }, {})).not.toThrow();
    // AWS variables set for other tools do not matter to a folder store
    expect(() => checkCommandLine('list', ['./s'], {}, { AWS_REGION: 'not a region', AWS_ENDPOINT_URL: 'nope' })).not.toThrow();
  });

  it('the store URL and, for s3://, its region and endpoint', () => {
    expect(usage(() => checkCommandLine('list', ['ftp://x'], {}, {}))).toMatch(/unknown scheme/);
    expect(usage(() => checkCommandLine('backup', ['kafka://h', 's3://'], {}, {}))).toMatch(/no bucket name/);
    expect(usage(() => checkCommandLine('list', ['s3://b/p'], { s3Region: 'eu west' }, {}))).toMatch(/S3 region "eu west"/);
    expect(usage(() => checkCommandLine('list', ['s3://b/p'], {}, { AWS_REGION: 'eu_west' }))).toMatch(/S3 region "eu_west"/);
    expect(usage(() => checkCommandLine('list', ['s3://b/p'], { s3Endpoint: 'ftp://h' }, {}))).toMatch(/S3 endpoint/);
    expect(usage(() => checkCommandLine('list', ['./s'], { s3Sse: 'none' }, {}))).toMatch(/--s3-sse none/);
  });

  it('backup and key ids', () => {
    expect(usage(() => checkCommandLine('verify', ['./s', 'latest'], {}, {}))).toBe('backup "latest": not a backup id');
    expect(usage(() => checkCommandLine('show', ['./s', '../x'], {}, {}))).toMatch(/not a backup id/);
    expect(usage(() => checkCommandLine('cat', ['./s', `${ID}x`], {}, {}))).toMatch(/not a backup id/);
    expect(usage(() => checkCommandLine('restore', ['./s', 'kafka://h'], { backup: 'yesterday' }, {}))).toBe('--backup "yesterday": not a backup id');
    expect(usage(() => checkCommandLine('forget', ['./s'], { keepLast: 1, keepId: [ID, 'x'] }, {}))).toBe('--keep-id "x": not a backup id');
    expect(usage(() => checkCommandLine('key remove', ['./s', 'ABCDEF01'], {}, {}))).toMatch(/not a key id/);
  });

  it('files named by options are there and readable; empty paths refused', () => {
    expect(usage(() => checkCommandLine('list', ['./s'], { passwordFile: path.join(dir, 'none') }, {}))).toMatch(/--password-file .*none: cannot read it \(ENOENT\)/);
    expect(usage(() => checkCommandLine('list', ['./s'], { passwordFile: dir }, {}))).toMatch(/--password-file .*: not a file/);
    expect(usage(() => checkCommandLine('key add', ['./s'], { passwordFile: pw, newPasswordFile: `${pw}/x` }, {}))).toMatch(/--new-password-file .*: cannot read it \(ENOTDIR\)/);
    expect(usage(() => checkCommandLine('list', ['./s'], { passwordFile: pw, passwordCommand: 'echo x' }, {}))).toMatch(/exclude each other/);
    expect(usage(() => checkCommandLine('restore', ['./s', 'kafka://h'], { offsetMap: '' }, {}))).toBe('--offset-map: empty path');
    expect(usage(() => checkCommandLine('restore', ['./s', 'kafka://h'], { journal: '' }, {}))).toBe('--journal: empty path');
  });

  it('options that mean nothing without another one', () => {
    expect(usage(() => checkCommandLine('forget', ['./s'], { keepLast: 1, grace: '1h' }, {}))).toBe('--grace applies to --prune only');
    expect(usage(() => checkCommandLine('backup', ['kafka://h', './s'], { metricsJob: 'j' }, {}))).toBe('--metrics-job applies to --pushgateway only');
  });
});
