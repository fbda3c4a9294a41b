/**
 * parseHeaderBlock keeps the names it decoded lately by their place in the block: a name of the
 * same length at the same place is compared byte by byte, never taken for the previous one.
 */
import { describe, expect, it } from 'vitest';
import { parseHeaderBlock } from '../../../../src/brokers/nats/header-block.js';

const block = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));
const names = (s: string) => parseHeaderBlock(block(s)).headers.map((h) => h.name);

describe('parseHeaderBlock names', () => {
  it('reads each name from its own bytes, whatever the previous block had at that place', () => {
    expect(names('NATS/1.0\r\nAb: 1\r\nCd: 2\r\n\r\n')).toEqual(['Ab', 'Cd']);
    expect(names('NATS/1.0\r\nAb: 1\r\nCd: 2\r\n\r\n')).toEqual(['Ab', 'Cd']);
    expect(names('NATS/1.0\r\nAc: 1\r\nCd\r\n\r\n')).toEqual(['Ac', 'Cd']);
    expect(names('NATS/1.0\r\nCd: 1\r\nAb: 2\r\nAb: 3\r\n\r\n')).toEqual(['Cd', 'Ab', 'Ab']);
    expect(names('NATS/1.0\r\n\xc3\xa4b: 1\r\n\r\n')).toEqual(['äb']);
  });

  it('refuses a name that is not UTF-8 at a place that held a valid name of the same length', () => {
    expect(names('NATS/1.0\r\nxy: 1\r\n\r\n')).toEqual(['xy']);
    expect(() => parseHeaderBlock(block('NATS/1.0\r\n\xffy: 1\r\n\r\n'))).toThrow();
    expect(names('NATS/1.0\r\nxy: 1\r\n\r\n')).toEqual(['xy']);
  });

  it('reads the status after NATS/1.0 and refuses another first line', () => {
    expect(parseHeaderBlock(block('NATS/1.0 408 Request Timeout\r\n\r\n'))).toEqual({ headers: [], status: '408 Request Timeout' });
    expect(parseHeaderBlock(block('NATS/1.0'))).toEqual({ headers: [], status: '' });
    expect(() => parseHeaderBlock(block('NATS/1.\r\nA: 1\r\n\r\n'))).toThrow(/NATS\/1.0/);
  });
});
