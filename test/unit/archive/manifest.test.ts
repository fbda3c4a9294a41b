import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CUT_FORMAT_VERSION, FORMAT_VERSION, manifestProblems, parseManifest, serializeManifest, type Manifest } from '../../../src/archive/manifest.js';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const RABBIT = 'manifests/20261125T030000000Z-0a0b0c.json';

function manifest(streams: Manifest['streams']): Manifest {
  return {
    format: 'mqbak',
    version: FORMAT_VERSION,
    id: '20261125T010000000Z-aaaaaa',
    kind: 'full',
    parent: null,
    source: { broker: 'nats', url: 'nats://h:4222', chainKey: 'nats:x', options: {} },
    streams,
    metadata: {},
    tool: { name: 'mqbak', version: '0' },
    startedAt: '2026-11-25T01:00:00.000Z',
    endedAt: '2026-11-25T01:00:01.000Z',
    warnings: [],
  };
}

const stream = (address: Record<string, unknown>) =>
  ({ name: 'nats/ORDERS', address, from: '0', to: '0', records: 0, segments: [], gaps: [], extra: {} }) as unknown as Manifest['streams'][number];

describe('manifest version 2', () => {
  it('stores any adapter and any JSON-scalar address, and reads it back', () => {
    const m = manifest([stream({ stream: 'ORDERS', replicas: 3, mirror: false, domain: null })]);
    expect(parseManifest(serializeManifest(m))).toEqual(m);
  });

  it('refuses an address that is not an object of scalars, and version 1 stream fields', () => {
    expect(manifestProblems(manifest([stream({ nested: { a: 1 } })]))).toEqual(['streams[0]: bad address (a JSON object of strings, numbers, booleans and nulls)']);
    expect(manifestProblems(manifest([{ ...stream({}), broker: 'kafka' } as never]))).toEqual(['streams[0]: has the version 1 field broker']);
    expect(manifestProblems({ ...manifest([]), source: { broker: '', url: 'u', chainKey: 'k', options: {} } })).toEqual(['bad source']);
  });

  it('reads a version 1 manifest: checked by the version 1 rules, upgraded in memory, never written again', async () => {
    const v1 = parseManifest(await readFile(`${FIXTURES}store-v1/${RABBIT}`));
    expect(v1.version).toBe(1);
    expect(v1.streams[0]).toMatchObject({ name: 'rabbitmq/prod/jobs', address: { vhost: 'prod', queue: 'jobs', queueType: 'classic' } });
    expect(v1.streams[0]).not.toHaveProperty('rabbitmq');
    expect(v1.streams[0]).not.toHaveProperty('broker');
    expect(() => serializeManifest(v1)).toThrow(/version 1 is not 2/);
  });

  it('refuses a version 1 manifest edited into the version 2 shape (checksum), and a newer version', async () => {
    const text = await readFile(`${FIXTURES}store-v1/${RABBIT}`, 'utf8');
    expect(() => parseManifest(Buffer.from(text.replace('"broker": "rabbitmq",\n      "extra"', '"extra"')))).toThrow(/checksum mismatch|canonical/);
    expect(() => parseManifest(Buffer.from(text.replace('"version": 1', '"version": 5')))).toThrow(expect.objectContaining({ code: 'unsupported' }));
  });
});

describe('manifest version 4 (a cut)', () => {
  const cut = (over: Partial<Manifest> = {}): Manifest => ({
    ...manifest([stream({ stream: 'ORDERS' })]),
    version: CUT_FORMAT_VERSION,
    id: '20261201T000000000Z-bbbbbb',
    cut: { of: '20261125T010000000Z-aaaaaa', before: '2026-11-01T00:00:00.000Z' },
    ...over,
  });

  it('carries what it is a cut of, and reads back', () => {
    expect(manifestProblems(cut(), CUT_FORMAT_VERSION)).toEqual([]);
    expect(parseManifest(serializeManifest(cut()))).toEqual(cut());
  });

  it('needs its cut, of an older backup, and is a full backup; other versions have no cut', () => {
    expect(manifestProblems(cut({ cut: undefined }), CUT_FORMAT_VERSION)).toEqual(['a version 4 manifest needs cut {of, before}']);
    expect(manifestProblems(cut({ cut: { of: '20261202T000000000Z-cccccc', before: '2026-11-01T00:00:00.000Z' } }), CUT_FORMAT_VERSION)).toEqual([
      'cut of 20261202T000000000Z-cccccc, which is not older than 20261201T000000000Z-bbbbbb',
    ]);
    expect(manifestProblems(cut({ kind: 'incremental', parent: { id: '20261125T010000000Z-aaaaaa', sha256: 'a'.repeat(64) } }), CUT_FORMAT_VERSION)).toEqual(['a cut is a full backup']);
    expect(manifestProblems({ ...manifest([]), cut: cut().cut })).toEqual(['a version 2 manifest has no cut']);
  });
});
