import { cp, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runMqbak } from '../helpers/run-mqbak.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/store-v1/', import.meta.url));
const EXPECTED = fileURLToPath(new URL('../../fixtures/store-v1.expected.jsonl', import.meta.url));
const FULL = '20261125T010000000Z-a1b2c3';
const INC = '20261125T020000000Z-d4e5f6';
const RABBIT = '20261125T030000000Z-0a0b0c';
const SEG = `segments/${FULL}/0000/0000000001.seg`;

const noStack = (s: string) => expect(s).not.toMatch(/^\s+at /m);

describe('mqbak verify, list, show, cat on the golden fixtures', () => {
  it('verify exits 0 on the fixture store', async () => {
    const r = await runMqbak(['verify', FIXTURE]);
    expect(r.stderr.includes('error')).toBe(false);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ok: 3 backups, 9 segments, 69 records/m);
  });

  it('verify --json of one backup checks its chain', async () => {
    const r = await runMqbak(['verify', `file://${FIXTURE}`, INC, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout);
    expect(j).toMatchObject({ ok: true, findings: [], checked: { backups: 2, records: 63 } });
  });

  it('list --json gives id, kind, parent, createdAt, records', async () => {
    const r = await runMqbak(['list', FIXTURE, '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.stdout) as Array<Record<string, unknown>>;
    expect(j.map((b) => [b.id, b.kind, b.parent, b.createdAt, b.records, b.chain])).toEqual([
      [FULL, 'full', null, '2026-11-25T01:00:00.000Z', 48, FULL],
      [INC, 'incremental', FULL, '2026-11-25T02:00:00.000Z', 15, FULL],
      [RABBIT, 'full', null, '2026-11-25T03:00:00.000Z', 6, RABBIT],
    ]);
    const t = await runMqbak(['list', FIXTURE]);
    expect(t.code).toBe(0);
    expect(t.stdout).toContain(`incremental  <- ${FULL}`);
  });

  it('show prints the streams and metadata; --json the manifest', async () => {
    const r = await runMqbak(['show', FIXTURE, FULL]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/kafka\/payments\/0 +\[3, 30\) +8 +2 /);
    expect(r.stdout).toContain('gap [0, 3) deleted by retention');
    expect(r.stdout).toContain('metadata\n  kafka: ');
    const j = JSON.parse((await runMqbak(['show', FIXTURE, RABBIT, '--json'])).stdout);
    expect(j).toMatchObject({ format: 'mqbak', version: 1, id: RABBIT, kind: 'full', streams: [{ name: 'rabbitmq/prod/jobs', records: 6 }] });
    expect(j.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('cat prints the expected JSON lines; --stream and --limit select', async () => {
    const expected = (await readFile(EXPECTED, 'utf8'))
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const r = await runMqbak(['cat', FIXTURE, INC]);
    expect(r.code).toBe(0);
    const got = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(got).toEqual(expected.filter((e) => e.backup === INC).map(({ backup: _, ...rest }) => rest));
    const one = await runMqbak(['cat', FIXTURE, FULL, '--stream', 'kafka/payments/0', '--limit', '3']);
    expect(one.stdout.trimEnd().split('\n').map((l) => JSON.parse(l).position)).toEqual(['3', '6', '9']);
    const missing = await runMqbak(['cat', FIXTURE, FULL, '--stream', 'kafka/nope/0']);
    expect(missing.code).toBe(10);
    expect(missing.stderr).toContain('has no stream kafka/nope/0');
    noStack(missing.stderr);
  });

  it('unknown backup: exit 10 for verify, show and cat', async () => {
    for (const cmd of ['verify', 'show', 'cat']) {
      const r = await runMqbak([cmd, FIXTURE, '20261125T090000000Z-000000']);
      expect(r.code, cmd).toBe(10);
      expect(r.stderr).toMatch(/backup 20261125T090000000Z-000000 not found/);
      noStack(r.stderr);
    }
  });
});

describe('mqbak verify on damaged copies', () => {
  let dir: string;
  const file = (key: string) => join(dir, ...key.split('/'));
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-e2e-corrupt-'));
    await cp(FIXTURE, dir, { recursive: true });
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('one flipped byte in a segment: exit 4, names the segment', async () => {
    const b = await readFile(file(SEG));
    const mid = Math.floor(b.length / 2);
    b[mid] = b[mid]! ^ 0x40;
    await writeFile(file(SEG), b);
    const r = await runMqbak(['verify', dir]);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain(`error: sha-mismatch: segment ${SEG}: SHA-256`);
    expect(r.stdout).toMatch(/^FAILED: 1 integrity finding/m);
    noStack(r.stderr);
    const j = JSON.parse((await runMqbak(['verify', dir, '--json'])).stdout);
    expect(j.ok).toBe(false);
    expect(j.findings).toEqual([expect.objectContaining({ kind: 'sha-mismatch', severity: 'error', key: SEG, backup: FULL, stream: 'kafka/orders/0' })]);
    // cat refuses the damaged stream, with exit 4 and no stack
    const c = await runMqbak(['cat', dir, FULL, '--stream', 'kafka/orders/0']);
    expect(c.code).toBe(4);
    expect(c.stderr).toContain(`segment ${SEG}`);
    noStack(c.stderr);
  });

  it('a truncated segment, a deleted segment, a removed parent, a damaged manifest: exit 4 each', async () => {
    const cases: Array<[string, () => Promise<void>, string]> = [
      ['truncated', () => truncate(file(SEG), 100), `size-mismatch: segment ${SEG}`],
      ['deleted', () => unlink(file(SEG)), `missing-segment: segment ${SEG}: missing`],
      ['parent removed', () => unlink(file(`manifests/${FULL}.json`)), `missing-parent: backup ${INC}: its parent ${FULL} is missing`],
      [
        'manifest byte',
        async () => {
          const b = await readFile(file(`manifests/${INC}.json`));
          b[200] = b[200]! ^ 0x01;
          await writeFile(file(`manifests/${INC}.json`), b);
        },
        `invalid-manifest: manifest manifests/${INC}.json`,
      ],
    ];
    for (const [name, damage, finding] of cases) {
      await rm(dir, { recursive: true, force: true });
      await cp(FIXTURE, dir, { recursive: true });
      await damage();
      const r = await runMqbak(['verify', dir]);
      expect(r.code, name).toBe(4);
      expect(r.stdout, name).toContain(`error: ${finding}`);
      noStack(r.stderr);
    }
  });
});

describe('mqbak restore of Kafka offsets past 2^53', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mqbak-huge-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses with exit 2 before it connects anywhere, and says why', async () => {
    const { openBackupWriter } = await import('../../src/core/backup-writer.js');
    const { LocalStore } = await import('../../src/stores/local.js');
    const from = 2n ** 60n;
    const w = await openBackupWriter({
      store: new LocalStore(dir),
      kind: 'full',
      parent: null,
      source: { broker: 'kafka', url: 'kafka://localhost:9092', chainKey: 'kafka:test:huge', options: {} },
      toolVersion: '0.0.0-test',
    });
    const s = w.openStream({ name: 'kafka/huge/0', address: { topic: 'huge', partition: 0 }, from });
    await s.append({ position: from, timestamp: 1, timestampType: 'create', key: null, value: new TextEncoder().encode('x'), headers: [], attributes: null });
    await s.close(from + 1n);
    await w.commit();
    // nothing listens on port 1: a restore that got as far as connecting would exit 5
    const r = await runMqbak(['restore', dir, 'kafka://127.0.0.1:1'], { env: { XDG_STATE_HOME: dir } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('reach past 2^53');
    noStack(r.stderr);
  });
});
