/**
 * The NATS JetStream options (src/brokers/nats/options.ts), checked before connecting: what a
 * mode does not use is refused rather than ignored.
 */
import { describe, expect, it } from 'vitest';
import { backupSettings, DEFAULT_CHECKPOINT } from '../../../../src/brokers/nats/options.js';

describe('NATS backup settings', () => {
  it('--checkpoint is for --mode drain; mirror refuses it', () => {
    expect(backupSettings('nats://h', { streams: ['S'], mode: 'drain', checkpoint: 5 })).toMatchObject({ mode: 'drain', checkpoint: 5 });
    expect(backupSettings('nats://h', { streams: ['S'] })).toMatchObject({ mode: 'mirror', checkpoint: DEFAULT_CHECKPOINT });
    expect(() => backupSettings('nats://h', { streams: ['S'], checkpoint: 5 })).toThrow(expect.objectContaining({ code: 'usage', message: '--checkpoint applies to --mode drain only' }));
    expect(() => backupSettings('nats://h', { streams: ['S'], mode: 'mirror', checkpoint: 5 })).toThrow(/--checkpoint applies to --mode drain only/);
  });
});
