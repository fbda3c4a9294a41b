/**
 * verify --read-data-subset through the binary: the slices 1/3, 2/3 and 3/3 together read every
 * segment of the golden store exactly once, and a damaged segment is found by the slice that holds
 * it and by no other; a bad subset is refused before any work.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runMqbak } from '../helpers/run-mqbak.js';
import { sliceOf } from '../../src/core/verify-subset.js';

const FIXTURE = fileURLToPath(new URL('../../fixtures/store-v2/', import.meta.url));
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function copy(): Promise<string> {
  const d = await mkdtemp(path.join(tmpdir(), 'mqbak-subset-'));
  dirs.push(d);
  await cp(FIXTURE, d, { recursive: true });
  return d;
}

async function segmentKeys(store: string): Promise<string[]> {
  return (await readdir(path.join(store, 'segments'), { recursive: true })).filter((k) => k.endsWith('.seg')).map((k) => `segments/${k}`).sort();
}

interface Verified {
  ok: boolean;
  findings: Array<{ kind: string; key?: string }>;
  checked: { segments: number; segmentsNotRead: number; subset: string };
}

async function verify(store: string, subset: string): Promise<{ code: number | null; json: Verified }> {
  const r = await runMqbak(['verify', store, '--read-data-subset', subset, '--json']);
  return { code: r.code, json: JSON.parse(r.stdout) as Verified };
}

describe('verify --read-data-subset', () => {
  it('1/3, 2/3 and 3/3 read every segment exactly once', async () => {
    const store = await copy();
    const keys = await segmentKeys(store);
    expect(keys.length).toBeGreaterThanOrEqual(6);
    let read = 0;
    for (let n = 1; n <= 3; n++) {
      const { code, json } = await verify(store, `${n}/3`);
      expect(code).toBe(0);
      expect(json.checked.subset).toBe(`${n}/3`);
      expect(json.checked.segments).toBe(keys.filter((k) => sliceOf(k, 3) === n).length);
      expect(json.checked.segments + json.checked.segmentsNotRead).toBe(keys.length);
      read += json.checked.segments;
    }
    expect(read).toBe(keys.length);
    const text = await runMqbak(['verify', store, '--read-data-subset', '1/3']);
    expect(text.stdout).toMatch(/^ok: .*\(subset 1\/3: \d+ segments?, .* not read, only their presence and size\)$/m);
  });

  it('a damaged segment is found by the slice that holds it, and by no other', async () => {
    const store = await copy();
    const keys = await segmentKeys(store);
    const victim = keys[Math.floor(keys.length / 2)]!;
    const file = path.join(store, victim);
    const bytes = await readFile(file);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff; // same size: only a full read can see it
    await writeFile(file, bytes);
    for (let n = 1; n <= 3; n++) {
      const { code, json } = await verify(store, `${n}/3`);
      if (sliceOf(victim, 3) === n) {
        expect(code).toBe(4);
        expect(json.findings.map((f) => [f.kind, f.key])).toEqual([['sha-mismatch', victim]]);
      } else {
        expect(code).toBe(0);
        expect(json.findings).toEqual([]);
      }
    }
    // a missing segment is seen by every slice: presence is always checked
    await rm(file);
    for (let n = 1; n <= 3; n++) {
      const { code, json } = await verify(store, `${n}/3`);
      expect(code).toBe(4);
      expect(json.findings.map((f) => f.kind)).toContain('missing-segment');
    }
  });

  it('a bad subset is refused before any work', async () => {
    const r = await runMqbak(['verify', '/nonexistent/store', '--read-data-subset', '4/3']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^mqbak: error: --read-data-subset 4\/3: expected n\/t with 1 <= n <= t$/m);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});
