import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { blockNonce, MAX_BLOCK_INDEX, MAX_SEGMENT_SEQ, MAX_STREAM_INDEX, manifestNonce, type BlockPlace } from '../../../../src/archive/encryption/nonce.js';
import { deriveBackupKeys, deriveSubkey } from '../../../../src/archive/encryption/subkeys.js';
import { blockSealJob } from '../../../../src/archive/segment-sealing.js';

const JOB_HEADER = { version: 1, codec: 1, flags: 0, rawLength: 1, compressedLength: 0, rawCrc: 0, compressedCrc: 0, records: 1, firstPosition: 0n, lastPosition: 0n };

const place = fc.record({
  streamIndex: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: MAX_STREAM_INDEX })),
  segmentSeq: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: MAX_SEGMENT_SEQ })),
  blockIndex: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: MAX_BLOCK_INDEX })),
});
// ids as newBackupId makes them: a UTC millisecond and 6 hex digits
const backupId = fc
  .tuple(fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2040, 0, 1) }), fc.integer({ min: 0, max: 0xffffff }))
  .map(([ms, r]) => new Date(ms).toISOString().replace(/[-:.]/g, '') + '-' + r.toString(16).padStart(6, '0'));

function decode(n: Buffer): BlockPlace {
  return { streamIndex: n.readUIntLE(0, 3), segmentSeq: n.readUIntLE(3, 5), blockIndex: n.readUInt32LE(8) };
}

describe('block nonces', () => {
  it('decode back to their place: the encoding is injective, so different places never share a nonce', () => {
    fc.assert(
      fc.property(place, place, (a, b) => {
        const na = blockNonce(a);
        expect(na).toHaveLength(12);
        expect(decode(na)).toEqual(a);
        const same = a.streamIndex === b.streamIndex && a.segmentSeq === b.segmentSeq && a.blockIndex === b.blockIndex;
        expect(na.equals(blockNonce(b))).toBe(same);
      }),
      { numRuns: 5000 },
    );
    expect(blockNonce({ streamIndex: MAX_STREAM_INDEX, segmentSeq: MAX_SEGMENT_SEQ, blockIndex: MAX_BLOCK_INDEX }).equals(Buffer.alloc(12, 0xff))).toBe(true);
  });

  it('no (key, nonce) pair repeats over many blocks of many backups, manifests included', () => {
    const master = randomBytes(32);
    fc.assert(
      fc.property(fc.uniqueArray(backupId, { minLength: 1, maxLength: 8 }), fc.array(place, { minLength: 1, maxLength: 60 }), (ids, places) => {
        const seen = new Set<string>();
        let used = 0;
        for (const id of ids) {
          const keys = deriveBackupKeys(master, id);
          const distinctPlaces = new Set(places.map((p) => blockNonce(p).toString('hex')));
          for (const n of distinctPlaces) seen.add(keys.segment.toString('hex') + n);
          // a zstd worker seals with the key and nonce of its job (segment-sealing.ts): the same pairs
          for (const p of places) {
            const job = blockSealJob({ keys, streamIndex: p.streamIndex, segmentSeq: p.segmentSeq }, p.blockIndex, JOB_HEADER);
            expect(seen.has(job.key.toString('hex') + Buffer.from(job.nonce).toString('hex'))).toBe(true);
          }
          seen.add(keys.manifest.toString('hex') + manifestNonce().toString('hex'));
          used += distinctPlaces.size + 1;
        }
        expect(seen.size).toBe(used);
      }),
      { numRuns: 300 },
    );
  });

  it('subkeys differ by backup and by purpose, and depend on the master key', () => {
    const m = Buffer.alloc(32, 1);
    const id = '20261204T120000000Z-abcdef';
    const k = deriveBackupKeys(m, id);
    expect(k.segment.equals(k.manifest)).toBe(false);
    expect(k.segment.equals(deriveSubkey(m, '20261204T120000000Z-abcdee', 'segment'))).toBe(false);
    expect(k.segment.equals(deriveSubkey(Buffer.alloc(32, 2), id, 'segment'))).toBe(false);
    expect(k.segment.equals(deriveSubkey(m, id, 'segment'))).toBe(true);
  });

  it('separate processes making backup ids at the same moment never share a (key, nonce) pair', async () => {
    const run = promisify(execFile);
    const worker = fileURLToPath(new URL('./nonce-worker.ts', import.meta.url));
    const master = randomBytes(32).toString('hex');
    const procs = 4;
    const outputs = await Promise.all(
      Array.from({ length: procs }, (_, i) => run(process.execPath, ['--import', 'tsx', worker, master, '200', '20', String(i + 1)], { maxBuffer: 64 << 20 })),
    );
    const ids = new Set<string>();
    const pairs = new Set<string>();
    let idCount = 0;
    let pairCount = 0;
    for (const { stdout } of outputs) {
      const r = JSON.parse(stdout) as { ids: string[]; pairs: string[] };
      expect(r.ids).toHaveLength(200);
      for (const id of r.ids) ids.add(id);
      for (const p of r.pairs) pairs.add(p);
      idCount += r.ids.length;
      pairCount += r.pairs.length;
    }
    expect(idCount).toBe(procs * 200);
    expect(ids.size).toBe(idCount);
    // every place within a backup is distinct (block index i), so every pair must be new
    expect(pairCount).toBe(procs * 200 * 21);
    expect(pairs.size).toBe(pairCount);
  }, 60_000);
});
