// Baseline (and seeder): a plain amqplib publisher with publisher confirms (persistent messages,
// headers, a window of unconfirmed messages like mqbak's sink), to the default exchange.
// usage: amqp-publish.ts <url> <queue> <data-file> [window]
import amqp from 'amqplib';
import { readDataFile } from '../lib/data.js';

const [url, queue, file, windowArg] = process.argv.slice(2);
if (!url || !queue || !file) throw new Error('usage: amqp-publish.ts <url> <queue> <data-file> [window]');
const window = Number(windowArg ?? 1000);
const conn = await amqp.connect(url, { noDelay: true });
const ch = await conn.createConfirmChannel();
await ch.assertQueue(queue, { durable: true });
let n = 0;
let inflight = 0;
let waiters: (() => void)[] = [];
let failed: unknown = null;
for (const recs of readDataFile(file, 1000)) {
  for (const r of recs) {
    while (inflight >= window) await new Promise<void>((res) => waiters.push(res));
    if (failed) throw failed;
    inflight++;
    const headers = Object.fromEntries(r.headers.map(([k, v]) => [k, v.toString()]));
    ch.publish(
      '',
      queue,
      r.value,
      { persistent: true, contentType: 'application/json', messageId: r.key.toString() + '-' + n, headers, timestamp: 1_764_000_000 },
      (err) => {
        if (err) failed = err;
        inflight--;
        const w = waiters;
        waiters = [];
        for (const f of w) f();
      },
    );
    n++;
  }
}
await ch.waitForConfirms();
if (failed) throw failed;
await ch.close();
await conn.close();
process.stdout.write(JSON.stringify({ published: n }) + '\n');
