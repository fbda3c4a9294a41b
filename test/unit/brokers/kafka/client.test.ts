import { describe, expect, it } from 'vitest';
import { untilAborted } from '../../../../src/brokers/kafka/client.js';

// A stand-in with the shape of a kafkajs client (no broker): what racing its calls does. The
// binary against a cluster that does not answer is in test/e2e/signals.test.ts.
function client() {
  let disconnected = false;
  return {
    connect: () => new Promise<void>(() => {}), // kafkajs retrying a broker that is gone
    listTopics: async () => ['a'],
    pause: (n: number) => n * 2,
    disconnect: async () => void (disconnected = true),
    disconnected: () => disconnected,
  };
}

describe('untilAborted', () => {
  it('calls go through while the signal is quiet, sync ones untouched', async () => {
    const c = untilAborted(client(), new AbortController().signal);
    await expect(c.listTopics()).resolves.toEqual(['a']);
    expect(c.pause(2)).toBe(4);
  });

  it('a call kafkajs keeps retrying ends with interrupted when the signal fires; a later call still runs', async () => {
    const ctl = new AbortController();
    const raw = client();
    const c = untilAborted(raw, ctl.signal);
    const connecting = c.connect();
    setTimeout(() => ctl.abort(), 10);
    await expect(connecting).rejects.toMatchObject({ code: 'interrupted' });
    await expect(c.disconnect()).rejects.toMatchObject({ code: 'interrupted' });
    await new Promise((r) => setTimeout(r, 0));
    expect(raw.disconnected()).toBe(true);
  });

  it('without a signal the client is returned as it is', () => {
    const raw = client();
    expect(untilAborted(raw, undefined)).toBe(raw);
  });
});
