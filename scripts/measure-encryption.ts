/**
 * Measures what encryption costs on this machine: one scrypt derivation at several costs, and
 * AES-256-GCM on 1 MiB blocks (mqbak's default block size) through src/archive/encryption/aead.ts
 * and, for comparison, through one update() call. Prints wall-clock and CPU-time rates: on a
 * shared machine the CPU-time figure is the one that does not depend on the neighbours' load.
 *   npx tsx scripts/measure-encryption.ts [--scrypt] [--gcm] [--seconds S]
 */
import { createCipheriv, randomBytes, scryptSync } from 'node:crypto';
import { loadavg } from 'node:os';
import { gcmOpen, gcmSeal } from '../src/archive/encryption/aead.js';

const args = process.argv.slice(2);
const all = !args.includes('--scrypt') && !args.includes('--gcm');
const seconds = Number(args[args.indexOf('--seconds') + 1] ?? 3) || 3;

function timed(f: () => void): { wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  f();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}, OpenSSL ${process.versions.openssl}`);

if (all || args.includes('--scrypt')) {
  const salt = randomBytes(32);
  for (const logN of [15, 16, 17, 18]) {
    const N = 2 ** logN;
    const runs = Array.from({ length: 3 }, () => timed(() => scryptSync('password', salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 })));
    console.log(
      `scrypt N=2^${logN} r=8 p=1: wall ${runs.map((r) => r.wallMs.toFixed(0)).join('/')} ms, cpu ${runs.map((r) => r.cpuMs.toFixed(0)).join('/')} ms`,
    );
  }
}

if (all || args.includes('--gcm')) {
  const MiB = 1 << 20;
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = randomBytes(60);
  const block = randomBytes(MiB);
  const sealed = gcmSeal(key, nonce, aad, block);
  const variants: Array<[string, () => void]> = [
    ['seal (aead.ts, 64 KiB pieces)', () => gcmSeal(key, nonce, aad, block)],
    ['open (aead.ts, 64 KiB pieces)', () => gcmOpen(key, nonce, aad, sealed)],
    [
      'seal (one update of 1 MiB)',
      () => {
        const c = createCipheriv('aes-256-gcm', key, nonce);
        c.setAAD(aad);
        Buffer.concat([c.update(block), c.final(), c.getAuthTag()]);
      },
    ],
  ];
  for (const [name, f] of variants) {
    const wall: number[] = [];
    const cpu: number[] = [];
    for (let round = 0; round < 5; round++) {
      let n = 0;
      let w = 0;
      let c = 0;
      while (w < (seconds * 1000) / 5) {
        const t = timed(f);
        w += t.wallMs;
        c += t.cpuMs;
        n++;
      }
      wall.push((n * MiB) / 1e6 / (w / 1000));
      cpu.push((n * MiB) / 1e6 / (c / 1000));
    }
    console.log(`aes-256-gcm ${name}: median ${median(wall).toFixed(0)} MB/s wall (${wall.map((x) => x.toFixed(0)).join(' ')}), ${median(cpu).toFixed(0)} MB/s per CPU second`);
  }
}
