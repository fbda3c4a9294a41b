import { describe, expect, it } from 'vitest';
import { exitCodeFor, EXIT } from '../../../src/cli/exit-codes.js';
import { MqbakError, withContext } from '../../../src/common/errors.js';

describe('exit codes', () => {
  it('map every error code to the documented status', () => {
    expect(exitCodeFor('usage')).toBe(EXIT.usage);
    expect(exitCodeFor('partial')).toBe(3);
    expect(exitCodeFor('integrity')).toBe(4);
    expect(exitCodeFor('unreachable')).toBe(5);
    expect(exitCodeFor('not-found')).toBe(10);
    expect(exitCodeFor('interrupted')).toBe(130);
    expect(exitCodeFor('internal')).toBe(1);
  });
  it('withContext keeps the code and hint and prefixes the message', () => {
    const e = withContext(new MqbakError('integrity', 'bad block 3', { hint: 'h' }), 'read segment a/b');
    expect(e.code).toBe('integrity');
    expect(e.hint).toBe('h');
    expect(e.message).toBe('read segment a/b: bad block 3');
    expect(withContext(new Error('boom'), 'x', 'unreachable').code).toBe('unreachable');
  });
});
