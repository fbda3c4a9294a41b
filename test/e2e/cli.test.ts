import { describe, expect, it } from 'vitest';
import { runMqbak, runNode } from '../helpers/run-mqbak.js';

const COMMANDS = ['backup', 'restore', 'verify', 'list', 'show', 'cat'];

describe('mqbak binary', () => {
  it('--help lists the six commands, with examples and exit statuses', async () => {
    const r = await runMqbak(['--help']);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    expect(r.stdout).toContain('EXAMPLES');
    expect(r.stdout).toContain('EXIT STATUS');
  });

  it.each(COMMANDS)('%s --help has an example and an EXIT STATUS section', async (c) => {
    const r = await runMqbak([c, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: mqbak ${c}`);
    expect(r.stdout).toMatch(new RegExp(`EXAMPLES\\n  mqbak ${c} `));
    expect(r.stdout).toMatch(/EXIT STATUS\n  0 +success[\s\S]*\n  10 +not found: a backup, a stream, a store folder or an S3 bucket\n  130 +interrupted/);
  });

  it('an unknown command exits 2 with a one-line error and no stack', async () => {
    const r = await runMqbak(['bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toEqual(["mqbak: error: unknown command 'bogus'"]);
  });

  it('a missing argument or unknown option exits 2', async () => {
    const missing = await runMqbak(['backup']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("mqbak: error: missing required argument 'source'");
    const unknown = await runMqbak(['list', '--frobnicate', '/tmp']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("mqbak: error: unknown option '--frobnicate'");
  });

  it("an option of another broker's adapter is refused with exit 2 before anything connects", async () => {
    // nothing listens on port 1: getting as far as connecting would exit 5
    const b = await runMqbak(['backup', 'kafka://127.0.0.1:1', '/tmp/nowhere', '--topics', 't', '--queues', 'q']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/^mqbak: error: --queues is an option of RabbitMQ, not of Kafka sources\nhint: see mqbak backup --help/);
    const r = await runMqbak(['restore', '/tmp/nowhere', 'amqp://guest:guest@127.0.0.1:1/%2F', '--allow-nonempty']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mqbak: error: --allow-nonempty is an option of Kafka, not of RabbitMQ targets/);
  });

  it('a source URL of an unknown kind exits 2 with a hint of the accepted forms', async () => {
    const r = await runMqbak(['backup', 'mqtt://localhost', '/tmp/nowhere']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mqbak: error: backup source "mqtt:\/\/localhost": expected kafka:\/\/host:port or amqp:\/\//);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('a store URL of an unknown scheme exits 2', async () => {
    const r = await runMqbak(['list', 'ftp://example/backups']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('mqbak: error: store ftp://example/backups: unknown scheme');
    expect(r.stderr).toContain('hint: a store is a folder, file:///path or s3://bucket/prefix');
  });

  it('--version prints the package version', async () => {
    const r = await runMqbak(['--version']);
    expect(r.code).toBe(0);
    const { version } = (await import('../../package.json', { with: { type: 'json' } })).default as { version: string };
    expect(r.stdout.trim()).toBe(version);
  });

  it('--help loads no broker or S3 library', async () => {
    // CommonJS packages imported from ESM land in require.cache: list the heavy ones after --help.
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const { main } = await import(${JSON.stringify(new URL('../../dist/cli/main.js', import.meta.url).href)});
      const code = await main(['--help']);
      const heavy = Object.keys(require.cache).filter((k) => /node_modules\\/(kafkajs|amqplib|@aws-sdk)\\//.test(k));
      process.stderr.write(JSON.stringify({ code, heavy: heavy.length }));
    `;
    const r = await runNode(['--input-type=module', '-e', script]);
    const result = JSON.parse(r.stderr) as { code: number; heavy: number };
    expect(result).toEqual({ code: 0, heavy: 0 });
  });
});
