/**
 * Proves the Kafka test broker's consumer group APIs (test/brokers/kafka-mock/patches), not
 * mqbak: kafkajs 2.2.4's admin client and consumers get the answers a Kafka broker gives; raw
 * OffsetCommit requests check what kafkajs hides. Runs against a real Kafka too.
 */
import { AssignerProtocol } from 'kafkajs';
import type { Admin, Consumer, Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueName } from '../../helpers/brokers.js';
import { kafka, waitFor, rejection, simpleOffsetCommit } from './helpers.js';

describe('Kafka test broker: group APIs with kafkajs', () => {
  let admin: Admin;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    admin = kafka('mqbak-admin-test').admin();
    await admin.connect();
  });

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await admin.disconnect();
  });

  async function producer(): Promise<Producer> {
    const p = kafka('mqbak-admin-test-producer').producer();
    await p.connect();
    cleanups.push(() => p.disconnect());
    return p;
  }

  describe('groups', () => {
    async function runningConsumer(groupId: string, topic: string): Promise<Consumer> {
      const c = kafka('mqbak-admin-test-consumer').consumer({
        groupId,
        sessionTimeout: 10_000,
        heartbeatInterval: 500,
        maxWaitTimeInMs: 100,
      });
      cleanups.push(() => c.disconnect());
      await c.connect();
      await c.subscribe({ topic, fromBeginning: true });
      let seen = 0;
      await c.run({
        eachMessage: async () => {
          seen++;
        },
      });
      await waitFor('the consumer to read the topic', async () => (seen >= 2 ? true : undefined));
      return c;
    }

    it('a running consumer group is listed, described Stable with its member; deleteGroups is NON_EMPTY_GROUP until it stops', async () => {
      const topic = uniqueName('admin-grp');
      const groupId = uniqueName('admin-grp-g');
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
      const p = await producer();
      await p.send({ topic, acks: -1, messages: [{ partition: 0, value: 'a' }, { partition: 1, value: 'b' }] });
      const consumer = await runningConsumer(groupId, topic);

      const listed = (await admin.listGroups()).groups.filter((g) => g.groupId === groupId);
      expect(listed).toEqual([{ groupId, protocolType: 'consumer' }]);

      const { groups } = await admin.describeGroups([groupId]);
      expect(groups).toHaveLength(1);
      const g = groups[0];
      expect(g).toMatchObject({ groupId, errorCode: 0, state: 'Stable', protocolType: 'consumer' });
      expect(g?.protocol).toMatch(/\S/);
      expect(g?.members).toHaveLength(1);
      const m = g?.members[0];
      expect(m?.clientId).toBe('mqbak-admin-test-consumer');
      expect(m?.memberId).toMatch(/\S/);
      expect(m?.clientHost).toMatch(/\S/);
      const metadata = AssignerProtocol.MemberMetadata.decode(m?.memberMetadata ?? Buffer.alloc(0));
      expect(metadata?.topics).toEqual([topic]);
      const assignment = AssignerProtocol.MemberAssignment.decode(m?.memberAssignment ?? Buffer.alloc(0));
      expect(assignment?.assignment[topic]?.slice().sort()).toEqual([0, 1]);

      const e = await rejection(admin.deleteGroups([groupId]));
      const results = (e.groups as Array<{ groupId: string; error?: { type: string } }> | undefined) ?? [];
      expect(results.map((r) => [r.groupId, r.error?.type])).toEqual([[groupId, 'NON_EMPTY_GROUP']]);

      // an admin commit (generation -1, no member id) must not move a running group's offsets
      expect(await simpleOffsetCommit(groupId, topic, [{ partition: 0, offset: 0n }])).toEqual([25]); // UNKNOWN_MEMBER_ID

      await consumer.disconnect();
      const after = await waitFor('the group to be Empty', async () => {
        const d = (await admin.describeGroups([groupId])).groups[0];
        return d?.state === 'Empty' ? d : undefined;
      });
      expect(after.members).toEqual([]);

      expect(await admin.deleteGroups([groupId])).toEqual([{ groupId, errorCode: 0 }]);
      expect((await admin.describeGroups([groupId])).groups[0]?.state).toBe('Dead');
      expect((await admin.listGroups()).groups.some((x) => x.groupId === groupId)).toBe(false);
      const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(offsets[0]?.partitions.map((x) => x.offset)).toEqual(['-1', '-1']);

      const unknown = await rejection(admin.deleteGroups([uniqueName('admin-grp-none')]));
      expect(((unknown.groups as Array<{ error?: { type: string } }> | undefined) ?? []).map((r) => r.error?.type)).toEqual([
        'GROUP_ID_NOT_FOUND',
      ]);
    });

    it('setOffsets on an empty group, then fetchOffsets returns them', async () => {
      const topic = uniqueName('admin-setoff');
      const groupId = uniqueName('admin-setoff-g');
      await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
      const p = await producer();
      await p.send({
        topic,
        acks: -1,
        messages: ['a', 'b', 'c', 'd', 'e'].flatMap((v) => [
          { partition: 0, value: v },
          { partition: 1, value: v },
        ]),
      });
      // a group that existed and is now Empty
      const consumer = await runningConsumer(groupId, topic);
      await consumer.disconnect();
      await waitFor('the group to be Empty', async () =>
        (await admin.describeGroups([groupId])).groups[0]?.state === 'Empty' ? true : undefined,
      );

      await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '1' }, { partition: 1, offset: '4' }] });
      const fetched = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
      expect(fetched.map((x) => [x.partition, x.offset]).sort()).toEqual([
        [0, '1'],
        [1, '4'],
      ]);

      // a group that never existed
      const fresh = uniqueName('admin-setoff-new');
      await admin.setOffsets({ groupId: fresh, topic, partitions: [{ partition: 1, offset: '2' }] });
      const freshOffsets = (await admin.fetchOffsets({ groupId: fresh, topics: [topic] }))[0]?.partitions ?? [];
      expect(freshOffsets.find((x) => x.partition === 1)?.offset).toBe('2');

      // the commit admin tools send (generation -1, empty member id) is accepted for an Empty group
      expect(
        await simpleOffsetCommit(groupId, topic, [
          { partition: 0, offset: 3n },
          { partition: 1, offset: 5n },
        ]),
      ).toEqual([0, 0]);
      const moved = (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions ?? [];
      expect(moved.map((x) => [x.partition, x.offset]).sort()).toEqual([
        [0, '3'],
        [1, '5'],
      ]);
    });
  });

});
