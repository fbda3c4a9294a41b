/**
 * Messages read with the ordered-consumer reader and published again with the publisher, against
 * the real nats-server: subjects, headers (repeated names, order, case, empty values, bytes that
 * are not UTF-8) and data come back byte for byte, under a new stream name and renamed subjects.
 */
import { describe, expect, it } from 'vitest';
import { readStream, StreamPublisher, subjectRenamer, type NatsConnection, type NatsRecord } from '../../src/brokers/nats/index.js';
import { rawHeaderBlock } from '../../src/brokers/nats/raw-message.js';
import { bytes, createStream, latin1, useNatsConnection, publishRaw } from '../helpers/nats.js';

let conn: NatsConnection;
const streams: string[] = [];

useNatsConnection((c) => (conn = c), streams);

async function readAll(stream: string, from = 1): Promise<NatsRecord[]> {
  const info = await conn.jsm.streams.info(stream);
  const out: NatsRecord[] = [];
  for await (const b of readStream(conn, stream, { from, to: info.state.last_seq })) out.push(...b.records);
  return out;
}

/** Header blocks as other clients may write them: each must survive the round trip. */
const BLOCKS: Array<string | undefined> = [
  'NATS/1.0\r\nB: 1\r\nA: x\r\nB: 2\r\n\r\n', // a name repeated after another one
  'NATS/1.0\r\nlower-case: v\r\nLOWER-CASE: V\r\nMiXeD: m\r\n\r\n', // case of names
  'NATS/1.0\r\nEmpty: \r\nSpaced:   inside and after   \r\n\r\n', // empty value, spaces kept
  'NATS/1.0\r\nBin: \xff\x00\x80\x01\x7f\r\nUtf8-\xc3\xa4: \xc3\xbc\r\n\r\n', // not UTF-8; UTF-8 name
  'NATS/1.0\r\nNats-Msg-Id: from-the-source\r\nX: 1\r\n\r\n', // a dedup id of the source's own
  undefined, // no header block at all
];

describe('NATS round trip', () => {
  it('reads and republishes subjects, headers and data byte for byte under a new name', async () => {
    const src = await createStream(conn, 'nats-rt-src');
    streams.push(src);
    const datas = [bytes('hello'), new Uint8Array(0), new Uint8Array([0, 1, 2, 255, 13, 10]), new Uint8Array(70_000).map((_, i) => i % 251)];
    const sent: Array<{ subject: string; block: string | undefined; data: Uint8Array }> = [];
    for (let i = 0; i < 24; i++) {
      const subject = `${src}.${['a', 'b.c', 'deep.er.x', 'Upper'][i % 4]}`;
      // the source's own dedup id must differ per message, or the source keeps only the first
      const block = BLOCKS[i % BLOCKS.length]?.replace('from-the-source', `from-the-source-${i}`);
      const data = datas[i % datas.length]!;
      await publishRaw(conn, subject, data, block === undefined ? undefined : bytes(block));
      sent.push({ subject, block, data });
    }

    const records = await readAll(src);
    expect(records.map((r) => r.seq)).toEqual(sent.map((_, i) => i + 1));
    records.forEach((r, i) => {
      expect(r.subject).toBe(sent[i]!.subject);
      expect(Buffer.from(r.data).equals(Buffer.from(sent[i]!.data))).toBe(true);
      expect(Math.abs(r.timestamp - Date.now())).toBeLessThan(60_000);
    });
    // the parsed headers of one block, as the archive will keep them
    expect(records[0]!.headers.map((h) => [h.name, latin1(h.value)])).toEqual([['B', '1'], ['A', 'x'], ['B', '2']]);
    expect(records[3]!.headers.map((h) => [h.name, latin1(h.value)])).toEqual([['Bin', '\xff\x00\x80\x01\x7f'], ['Utf8-ä', '\xc3\xbc']]);
    expect(records[5]!.headers).toEqual([]);

    // restore under a new name, subjects renamed
    const dst = await createStream(conn, 'nats-rt-dst');
    streams.push(dst);
    const rename = subjectRenamer([{ from: `${src}.>`, to: `${dst}.>` }]);
    const pub = await StreamPublisher.open(conn, { stream: dst, window: 8 });
    const outcomes = await pub.publish(records.map((r) => ({ subject: rename(r.subject), headers: r.headers, data: r.data, sourceSeq: r.seq })));
    pub.close();
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(outcomes.map((o) => (o.ok ? o.targetSeq : -1))).toEqual(records.map((_, i) => i + 1));

    // the target's raw header blocks: the source's, as they were, nothing added
    const c = await conn.js.consumers.get(dst);
    const it = await c.fetch({ max_messages: records.length, expires: 5000 });
    let i = 0;
    for await (const m of it) {
      const s = sent[i]!;
      expect(m.subject).toBe(rename(s.subject));
      expect(Buffer.from(m.data).equals(Buffer.from(s.data))).toBe(true);
      expect(rawHeaderBlock(m) === null ? undefined : latin1(rawHeaderBlock(m))).toBe(s.block);
      if (++i === records.length) break;
    }
    expect(i).toBe(records.length);
    await c.delete().catch(() => undefined);

    // and read back through the reader: the same records
    const back = await readAll(dst);
    // (as text: vitest compares byte arrays element by element, slowly)
    const view = (subject: string, r: NatsRecord, headers: NatsRecord['headers']) => ({
      subject,
      headers: headers.map((h) => [h.name, latin1(h.value)]),
      data: Buffer.from(r.data).toString('base64'),
    });
    expect(back.map((r) => view(r.subject, r, r.headers))).toEqual(records.map((r) => view(rename(r.subject), r, r.headers)));
  });
});
