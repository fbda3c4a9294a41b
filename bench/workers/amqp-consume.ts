// Baseline: a plain amqplib consumer with manual acks (ack-multiple every `ackEvery` messages),
// prefetch as mqbak's (the queue depth, at most 65535), removing `count` messages from the queue.
// usage: amqp-consume.ts <url> <queue> <count> [prefetch] [ackEvery]
import amqp from 'amqplib';

const [url, queue, countArg, prefetchArg, ackArg] = process.argv.slice(2);
if (!url || !queue || !countArg) throw new Error('usage: amqp-consume.ts <url> <queue> <count> [prefetch] [ackEvery]');
const count = Number(countArg);
const prefetch = Number(prefetchArg ?? Math.min(count, 65535));
const ackEvery = Number(ackArg ?? 1000);
const conn = await amqp.connect(url, { noDelay: true });
const ch = await conn.createChannel();
await ch.prefetch(prefetch, false);
let seen = 0;
let bytes = 0;
await new Promise<void>((resolve, reject) => {
  ch.on('error', reject);
  void ch.consume(
    queue,
    (msg) => {
      if (!msg) return reject(new Error('consumer cancelled'));
      seen++;
      bytes += msg.content.length;
      if (seen % ackEvery === 0 || seen >= count) ch.ack(msg, true);
      if (seen >= count) resolve();
    },
    { noAck: false },
  );
});
await ch.close();
await conn.close();
process.stdout.write(JSON.stringify({ consumed: seen, bytes }) + '\n');
