/**
 * What a repartitioned Kafka restore decides before it writes (src/brokers/kafka/repartition.ts,
 * restore-plan.ts with --repartition, the option checks): target partition counts, the journal's
 * mode, and how many records of each source partition an interrupted run left on each target.
 */
import { describe, expect, it } from 'vitest';
import type { JournalEntry, PlannedTarget, SinkPlan } from '../../../../src/brokers/adapter.js';
import { checkRestore } from '../../../../src/brokers/kafka/options.js';
import { planNotes, targetTopics } from '../../../../src/brokers/kafka/restore-plan.js';
import { refuseOtherJournal, resumeBounds } from '../../../../src/brokers/kafka/repartition.js';
import { usage } from '../../../helpers/usage-error.js';

function target(partition: number, to = 'b'): PlannedTarget {
  return { name: `kafka/a/${partition}`, source: { topic: 'a', partition }, target: { topic: to, partition }, records: 1, from: 0n, to: 1n };
}

function plan(targets: PlannedTarget[]): SinkPlan {
  return { backupId: 'B1', metadata: { topics: { a: { partitions: 3, replicationFactor: 1, configs: {} } } }, renames: { a: 'b' }, targets };
}

/** A journal entry of a repartitioned stream over these lanes' start offsets. */
function entry(starts: number[]): JournalEntry {
  return { repartition: starts.length, targets: Object.fromEntries(starts.map((s, p) => [String(p), { initialEnd: String(s), producerId: '7', producerEpoch: 0, sequenceStart: String(s) }])) };
}

describe('kafka --repartition options', () => {
  it('refuses group translation and --partitions without --repartition, before connecting', () => {
    expect(usage(() => checkRestore('kafka://h:1', { repartition: true, groups: ['g'] }, {}))).toMatch(/^--repartition cannot translate consumer group offsets \(--groups\)/);
    expect(usage(() => checkRestore('kafka://h:1', { repartition: true, allGroups: true }, {}))).toMatch(/\(--all-groups\)/);
    expect(usage(() => checkRestore('kafka://h:1', { partitions: 4 }, {}))).toBe('--partitions needs --repartition');
    expect(() => checkRestore('kafka://h:1', { repartition: true, partitions: 4 }, {})).not.toThrow();
    expect(() => checkRestore('kafka://h:1', { repartition: true }, {})).not.toThrow();
  });
});

describe('kafka repartitioned target topics', () => {
  it('takes --partitions, else the source count, whatever the source partition numbers', () => {
    const p = plan([target(0), target(1), target(2)]);
    expect(targetTopics(p, { partitions: 5 }).b!.partitions).toBe(5);
    expect(targetTopics(p, { partitions: 2 }).b!.partitions).toBe(2);
    expect(targetTopics(p, { partitions: null }).b!.partitions).toBe(3);
    // without --repartition, as before: enough for every restored partition number
    expect(targetTopics(p).b!.partitions).toBe(3);
  });

  it('says in --dry-run that records are placed by key', () => {
    const notes = planNotes(plan([target(0), target(1), target(2)]), { repartition: true, partitions: 5 });
    expect(notes.lines).toEqual(['target topic b: 5 partitions (created if missing, refused if it has another count), records placed by key']);
    expect(notes.json.repartition).toBe(true);
  });
});

describe('kafka repartitioned resume', () => {
  it('refuses the journal of a restore run with the other mode', () => {
    expect(() => refuseOtherJournal(new Map([['kafka/a/0', entry([0, 0])]]), true)).not.toThrow();
    expect(() => refuseOtherJournal(new Map([['kafka/a/0', { initialEnd: '0' }]]), false)).not.toThrow();
    expect(usage(() => refuseOtherJournal(new Map([['kafka/a/0', { initialEnd: '0' }]]), true))).toBe('the interrupted restore of kafka/a/0 was run without --repartition');
    expect(usage(() => refuseOtherJournal(new Map([['kafka/a/0', entry([0])]]), false))).toBe('the interrupted restore of kafka/a/0 was run with --repartition');
  });

  it("bounds each started stream by the next one's starts, the last by the partitions' ends now", () => {
    const p = plan([target(0), target(1), target(2)]);
    const journal = new Map([
      ['kafka/a/0', entry([0, 10])],
      ['kafka/a/1', entry([4, 12])],
    ]);
    const ends = [9n, 20n];
    const bounds = resumeBounds(p, journal, new Map([['b', 2]]), (_t, partition) => ends[partition]!);
    expect(bounds.get('kafka/a/0')).toEqual([4n, 12n]);
    expect(bounds.get('kafka/a/1')).toEqual([9n, 20n]);
    expect(bounds.has('kafka/a/2')).toBe(false);
  });

  it('refuses a journal where a later stream started before an earlier one, or of another partition count', () => {
    const p = plan([target(0), target(1), target(2)]);
    expect(() => resumeBounds(p, new Map([['kafka/a/1', entry([0, 0])]]), new Map([['b', 2]]), () => 0n)).toThrow(
      expect.objectContaining({ code: 'integrity', message: 'restore journal: kafka/a/1 was started but kafka/a/0, written before it, was not' }),
    );
    expect(usage(() => resumeBounds(p, new Map([['kafka/a/0', entry([0, 0, 0])]]), new Map([['b', 2]]), () => 0n))).toMatch(/spread kafka\/a\/0 over 3 partitions; b now has 2/);
    expect(usage(() => resumeBounds(p, new Map([['kafka/a/0', { repartition: 2, targets: { '0': { initialEnd: 'x' } } }]]), new Map([['b', 2]]), () => 0n))).toMatch(
      /entry of kafka\/a\/0 is not one of a repartitioned restore/,
    );
  });
});
