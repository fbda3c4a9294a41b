import { describe, expect, it } from 'vitest';
import { calibrateScrypt, DEFAULT_SCRYPT, deriveScryptKey, scryptMemory, scryptParamsProblem } from '../../../../src/archive/encryption/kdf.js';
import { MqbakError } from '../../../../src/common/errors.js';

describe('scrypt', () => {
  it('the default cost is N = 2^17, r = 8, p = 1 (128 MiB), within the bounds key files accept', () => {
    expect(DEFAULT_SCRYPT).toEqual({ N: 131072, r: 8, p: 1 });
    expect(scryptMemory(DEFAULT_SCRYPT)).toBe(128 * 2 ** 20 + 1024);
    expect(scryptParamsProblem(DEFAULT_SCRYPT)).toBeNull();
  });

  it('refuses what is not a power of two, too cheap, or too much memory', () => {
    expect(scryptParamsProblem({ N: 1000, r: 8, p: 1 })).toMatch(/power of two/);
    expect(scryptParamsProblem({ N: 512, r: 8, p: 1 })).toMatch(/at least 1024/);
    expect(scryptParamsProblem({ N: 2 ** 20, r: 16, p: 1 })).toMatch(/1 GiB/);
    expect(scryptParamsProblem({ N: 1024, r: 0, p: 1 })).toMatch(/^r must be/);
    expect(scryptParamsProblem({ N: 1024, r: 8, p: 17 })).toMatch(/^p must be/);
    expect(scryptParamsProblem({ N: 1024.5, r: 8, p: 1 })).toMatch(/integers/);
  });

  it('derives 32 bytes that depend on the password, the salt and the cost', async () => {
    const p = { N: 1024, r: 8, p: 1 };
    const a = await deriveScryptKey(Buffer.from('pw'), Buffer.alloc(32, 1), p);
    expect(a).toHaveLength(32);
    expect(a.equals(await deriveScryptKey(Buffer.from('pw'), Buffer.alloc(32, 1), p))).toBe(true);
    expect(a.equals(await deriveScryptKey(Buffer.from('pW'), Buffer.alloc(32, 1), p))).toBe(false);
    expect(a.equals(await deriveScryptKey(Buffer.from('pw'), Buffer.alloc(32, 2), p))).toBe(false);
    expect(a.equals(await deriveScryptKey(Buffer.from('pw'), Buffer.alloc(32, 1), { ...p, N: 2048 }))).toBe(false);
    await expect(deriveScryptKey(Buffer.from('pw'), Buffer.alloc(32), { N: 3, r: 8, p: 1 })).rejects.toBeInstanceOf(MqbakError);
  });

  it('calibration doubles N until a derivation takes the target and keeps the closest not far over it', async () => {
    // a clock on which a derivation at N takes N / 1024 * 30 ms: 30, 60, 120, 240 ...
    let t = 0;
    let calls = 0;
    const clock = () => {
      calls++;
      // now() is called before and after each derivation; the step size comes from the call count
      if (calls % 2 === 0) t += 30 * 2 ** (calls / 2 - 1);
      return t;
    };
    const r = await calibrateScrypt(100, clock);
    // 60 ms is 40 off, 120 ms is 20 off and under 150: 2048 -> 4096
    expect(r.params).toEqual({ N: 4096, r: 8, p: 1 });
    expect(r.ms).toBe(120);
    t = 0;
    calls = 0;
    // target 70: 60 (10 off) beats 120 (50 off)
    expect((await calibrateScrypt(70, clock)).params.N).toBe(2048);
  });
});
