/**
 * The password-based key derivation of key files: scrypt (RFC 7914) from node:crypto, run on
 * libuv's thread pool so a derivation never blocks the event loop.
 *
 * Default cost: N = 2^17, r = 8, p = 1 (128 MiB of memory per derivation). Measured on the
 * project's machine (2 cores, Node 20.20, OpenSSL 3.0.19) on 2026-12-04: 611-620 ms per
 * derivation, against 295-305 ms at N = 2^16 and 1.6-2.1 s at N = 2^18. N must be a power of
 * two, so 2^17 is the nearest to the half second the project aims for: each password guess
 * costs an attacker that much time and memory on a machine like ours. The parameters are stored
 * in every key file, so a later default never locks out an older key.
 */
import { scrypt } from 'node:crypto';
import { MqbakError } from '../../common/errors.js';

export interface ScryptParams {
  /** CPU/memory cost: a power of two */
  N: number;
  /** block size */
  r: number;
  /** parallelism */
  p: number;
}

export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 2 ** 17, r: 8, p: 1 });

export const SALT_LENGTH = 32;
export const DERIVED_KEY_LENGTH = 32;

/**
 * What a key file may ask for. The floor keeps tests and test vectors fast (2^10 takes about a
 * millisecond) while refusing the trivial; the ceiling (1 GiB of memory) keeps a hostile or
 * damaged key file from making mqbak allocate without bound before the password is even checked.
 */
export const SCRYPT_LIMITS = Object.freeze({ minN: 2 ** 10, maxMemoryBytes: 2 ** 30, maxR: 64, maxP: 16 });

/** The memory one derivation needs, in bytes (scrypt's 128 * N * r, plus p lanes of 128 * r). */
export function scryptMemory(params: ScryptParams): number {
  return 128 * params.N * params.r + 128 * params.r * params.p;
}

/** Why `params` are not acceptable, or null when they are. */
export function scryptParamsProblem(params: ScryptParams): string | null {
  const { N, r, p } = params;
  if (!Number.isSafeInteger(N) || !Number.isSafeInteger(r) || !Number.isSafeInteger(p)) return 'N, r and p must be integers';
  if (N < SCRYPT_LIMITS.minN || (N & (N - 1)) !== 0) return `N must be a power of two of at least ${SCRYPT_LIMITS.minN}, not ${N}`;
  if (r < 1 || r > SCRYPT_LIMITS.maxR) return `r must be 1 to ${SCRYPT_LIMITS.maxR}, not ${r}`;
  if (p < 1 || p > SCRYPT_LIMITS.maxP) return `p must be 1 to ${SCRYPT_LIMITS.maxP}, not ${p}`;
  if (scryptMemory(params) > SCRYPT_LIMITS.maxMemoryBytes) return `N = ${N}, r = ${r} would need more than 1 GiB of memory`;
  return null;
}

/**
 * The 32-byte key scrypt derives from `password` and `salt`. Parameters are checked first (a
 * MqbakError 'usage' for what a caller asked for; key files check theirs when they are read).
 */
export async function deriveScryptKey(password: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const problem = scryptParamsProblem(params);
  if (problem !== null) throw new MqbakError('usage', `scrypt parameters: ${problem}`);
  // node's default maxmem is 32 MiB, below the default cost: allow exactly what is needed
  const maxmem = scryptMemory(params) + 2 ** 20;
  return new Promise<Buffer>((resolve, reject) => {
    scrypt(password, salt, DERIVED_KEY_LENGTH, { N: params.N, r: params.r, p: params.p, maxmem }, (err, key) => {
      if (err) reject(new MqbakError('internal', `scrypt: ${err.message}`, { cause: err }));
      else resolve(key);
    });
  });
}

/**
 * The N (r = 8, p = 1) whose derivation on this machine comes closest to `targetMs` without
 * going over 1.5 times it: for `mqbak key init --calibrate`-style tuning on a faster or slower
 * host than the project's. Each step doubles N; measuring stops at the first step past the target.
 */
export async function calibrateScrypt(targetMs: number, now: () => number = () => performance.now()): Promise<{ params: ScryptParams; ms: number }> {
  const salt = new Uint8Array(SALT_LENGTH);
  const password = new TextEncoder().encode('calibration');
  let best: { params: ScryptParams; ms: number } | null = null;
  for (let N = SCRYPT_LIMITS.minN; ; N *= 2) {
    const params = { N, r: 8, p: 1 };
    if (scryptParamsProblem(params) !== null) break;
    const t0 = now();
    await deriveScryptKey(password, salt, params);
    const ms = now() - t0;
    if (best === null || Math.abs(ms - targetMs) < Math.abs(best.ms - targetMs)) {
      if (ms <= targetMs * 1.5 || best === null) best = { params, ms };
    }
    if (ms >= targetMs) break;
  }
  return best ?? { params: { ...DEFAULT_SCRYPT }, ms: Number.NaN };
}
