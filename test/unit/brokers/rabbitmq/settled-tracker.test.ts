import { describe, expect, it } from 'vitest';
import { settledEntryOf, SettledTracker } from '../../../../src/brokers/rabbitmq/settled-tracker.js';

describe('RabbitMQ restore: the settled prefix', () => {
  it('only advances over settled records, whatever order the confirms come in', () => {
    const t = new SettledTracker();
    const s = [0n, 1n, 2n, 3n].map((p) => t.sent(p));
    s[1]!(true);
    expect(t.entry()).toEqual({ settledThrough: null, failed: [] });
    s[0]!(true);
    expect(t.entry().settledThrough).toBe('1');
    s[3]!(false);
    s[2]!(true);
    expect(t.entry()).toEqual({ settledThrough: '3', failed: ['3'] });
  });

  it('continues an earlier entry and settles a retried failure again', () => {
    const t = new SettledTracker(settledEntryOf({ settledThrough: '5', failed: ['2'] }));
    t.sent(2n)(true);
    t.sent(6n)(true);
    expect(t.entry()).toEqual({ settledThrough: '6', failed: [] });
  });

  it('reads only what it wrote from a journal entry', () => {
    expect(settledEntryOf(null)).toBeNull();
    expect(settledEntryOf({ settledThrough: 'x', failed: [1, '2'] })).toEqual({ settledThrough: null, failed: ['2'] });
    // through JSON and back, as the journal file keeps it
    expect(settledEntryOf(JSON.parse(JSON.stringify(new SettledTracker({ settledThrough: '9', failed: ['4'] }).entry())))).toEqual({ settledThrough: '9', failed: ['4'] });
  });
});
