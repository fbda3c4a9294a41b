/** Deterministic pseudo-random data for tests: the same seed always gives the same sequence. */

/** xorshift32: each call returns the next 32-bit state (never 0). */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
}

/** n bytes: the low byte of each xorshift32 state (not compressible, unlike repeated text). */
export function pseudoRandomBytes(n: number, seed = 1): Uint8Array {
  const next = xorshift32(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = next() & 0xff;
  return b;
}
