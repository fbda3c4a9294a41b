/** Unit-test helper: the message of the usage error (exit 2) that `f` throws; fails the test if it throws none or another. */
import { expect } from 'vitest';
import { MqbakError } from '../../src/common/errors.js';

export function usage(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(MqbakError);
    expect((e as MqbakError).code).toBe('usage');
    return (e as MqbakError).message;
  }
  throw new Error('expected a usage error');
}
