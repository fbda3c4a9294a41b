/**
 * mqbak's decoders of Kafka's lz4 and snappy codecs (src/brokers/kafka/codecs.ts): LZ4 frames
 * made by the lz4 command in its variants (linked or independent blocks, block and content
 * checksums, content size), snappy blocks and snappy-java framing made by hand to the format's
 * rules, and damaged input. Kafka batches written by real clients are checked end to end in
 * test/e2e/kafka.test.ts (kcat, librdkafka's codecs).
 */
import { execFileSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTool } from '../../../helpers/tools.js';
import { lz4FrameDecompress, snappyDecompress, xxh32 } from '../../../../src/brokers/kafka/codecs.js';

const MAX = 64 << 20;

/** Compressible but varied bytes: JSON-ish lines with repeats near and far. */
function sample(n: number, seed = 1): Buffer {
  const parts: string[] = [];
  let x = seed;
  for (let length = 0; length < n; ) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    const line = `{"id":${x % 100000},"type":"${['order', 'cart', 'login'][x % 3]}","pad":"${'x'.repeat(x % 40)}","r":${(x >> 7) % 977}}\n`;
    parts.push(line);
    length += line.length;
  }
  return Buffer.from(parts.join('').slice(0, n));
}

describe('xxHash32', () => {
  it('gives the reference values', () => {
    const t = (s: string, seed = 0) => xxh32(Buffer.from(s), 0, Buffer.byteLength(s), seed);
    expect(t('')).toBe(0x02cc5d05);
    expect(t('a')).toBe(0x550d7456);
    expect(t('abc')).toBe(0x32d153ff);
    expect(t('Nobody inspects the spammish repetition')).toBe(0xe2293b2f);
    expect(t('abc', 1)).toBe(0xaa3da8ff);
  });
});

// the lz4 command is installed by the tests' set-up (scripts/ensure-deps.sh): never skipped
describe('LZ4 frames', () => {
  beforeAll(() => requireTool('lz4'));
  const variants: string[][] = [[], ['-BD'], ['-BD', '-B4'], ['-BX'], ['--no-frame-crc'], ['--content-size'], ['-9', '-BD', '-B5'], ['-1', '-B4', '-BX', '--content-size']];
  for (const v of variants) {
    it(`made by lz4 ${v.join(' ') || '(defaults)'} decompress to the input`, () => {
      for (const input of [sample(1_000_000), sample(70_000, 7), Buffer.alloc(0), Buffer.from('x'), Buffer.alloc(300_000, 0x41)]) {
        const frame = execFileSync('lz4', ['-q', '-c', ...v], { input, maxBuffer: 64 << 20 });
        expect(Buffer.from(lz4FrameDecompress(frame, MAX)).equals(input)).toBe(true);
      }
    });
  }

  it('damage is an error, not other bytes', () => {
    const input = sample(200_000, 3);
    const frame = execFileSync('lz4', ['-q', '-c'], { input });
    expect(() => lz4FrameDecompress(frame.subarray(0, frame.length - 10), MAX)).toThrow(/lz4/);
    const bad = Buffer.from(frame);
    const mid = Math.floor(bad.length / 2);
    bad[mid] = bad[mid]! ^ 0x10;
    // the content checksum (on by default) catches what the block structure does not
    expect(() => lz4FrameDecompress(bad, MAX)).toThrow(/lz4/);
    expect(() => lz4FrameDecompress(frame, 1000)).toThrow(/more than 1000 bytes/);
    expect(() => lz4FrameDecompress(Buffer.from('not lz4 at all'), MAX)).toThrow(/not an LZ4 frame/);
  });
});

/** A raw snappy block: preamble, then the given elements. */
function snappy(length: number, ...elements: number[][]): Buffer {
  const pre: number[] = [];
  for (let v = length; ; ) {
    if (v < 128) {
      pre.push(v);
      break;
    }
    pre.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  return Buffer.from([...pre, ...elements.flat()]);
}
const lit = (s: string) => [((s.length - 1) << 2) | 0, ...Buffer.from(s)];

describe('snappy', () => {
  it('raw blocks: literals (short and long), copies with 1-, 2- and 4-byte offsets, overlapping copies', () => {
    // "abcd" then copy 1-byte offset 4 len 8 -> "abcdabcdabcd"
    expect(Buffer.from(snappyDecompress(snappy(12, lit('abcd'), [(0 << 5) | ((8 - 4) << 2) | 1, 4]), MAX)).toString()).toBe('abcdabcdabcd');
    // overlapping run: "a" then copy offset 1 len 10 (2-byte offset form)
    expect(Buffer.from(snappyDecompress(snappy(11, lit('a'), [((10 - 1) << 2) | 2, 1, 0]), MAX)).toString()).toBe('a'.repeat(11));
    // 4-byte offset form
    expect(Buffer.from(snappyDecompress(snappy(6, lit('xyz'), [((3 - 1) << 2) | 3, 3, 0, 0, 0]), MAX)).toString()).toBe('xyzxyz');
    // a literal of 100 bytes: length in one extra byte (tag 60)
    const long = 'L'.repeat(100);
    expect(Buffer.from(snappyDecompress(snappy(100, [60 << 2, 99, ...Buffer.from(long)]), MAX)).toString()).toBe(long);
    // a preamble of two bytes (length 300)
    const s300 = 'q'.repeat(300);
    expect(Buffer.from(snappyDecompress(snappy(300, [60 << 2, 255, ...Buffer.from(s300.slice(0, 256))], [61 << 2, 43, 0, ...Buffer.from(s300.slice(256))]), MAX)).toString()).toBe(s300);
  });

  it("snappy-java's framing: the header, then length-prefixed blocks", () => {
    const b1 = snappy(12, lit('abcd'), [((8 - 4) << 2) | 1, 4]);
    const b2 = snappy(3, lit('end'));
    const chunk = (b: Buffer) => Buffer.concat([Buffer.from([b.length >>> 24, (b.length >> 16) & 255, (b.length >> 8) & 255, b.length & 255]), b]);
    const framed = Buffer.concat([Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0, 0, 0, 0, 1, 0, 0, 0, 1]), chunk(b1), chunk(b2)]);
    expect(Buffer.from(snappyDecompress(framed, MAX)).toString()).toBe('abcdabcdabcdend');
  });

  it('damage is an error', () => {
    expect(() => snappyDecompress(snappy(12, lit('abcd'), [((8 - 4) << 2) | 1, 9]), MAX)).toThrow(/outside/); // offset before the start
    expect(() => snappyDecompress(snappy(13, lit('abcd'), [((8 - 4) << 2) | 1, 4]), MAX)).toThrow(/the block says 13/);
    expect(() => snappyDecompress(snappy(4, lit('abcdef')), MAX)).toThrow(/runs past/);
    expect(() => snappyDecompress(snappy(5000, lit('a')), 100)).toThrow(/more than 100 bytes/);
  });
});
