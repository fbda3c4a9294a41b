import { describe, expect, it } from 'vitest';
import { MqbakError, withContext } from '../../../src/common/errors.js';

describe('withContext', () => {
  it('puts the context before the message, keeping code, hint and retriable', () => {
    const e = withContext(new MqbakError('unreachable', 'connection reset', { hint: 'retry later', retriable: true }), 'queue big');
    expect(e).toMatchObject({ code: 'unreachable', message: 'queue big: connection reset', hint: 'retry later', retriable: true });
  });

  it('does not say a context twice when the layer below already said it', () => {
    const inner = new MqbakError('partial', 'queue big: RabbitMQ closed the channel');
    expect(withContext(inner, 'queue big').message).toBe('queue big: RabbitMQ closed the channel');
    // a longer context that merely starts the same is still added
    expect(withContext(inner, 'queue bi').message).toBe('queue bi: queue big: RabbitMQ closed the channel');
  });

  it('wraps anything else with the fallback code', () => {
    expect(withContext(new Error('EPIPE'), 'store x', 'unreachable')).toMatchObject({ code: 'unreachable', message: 'store x: EPIPE' });
    expect(withContext('odd', 'store x')).toMatchObject({ code: 'internal', message: 'store x: odd' });
  });
});
