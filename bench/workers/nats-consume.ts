// Baseline: a plain NATS JetStream ordered consumer (@nats-io/jetstream consume) that only reads
// a stream from its first message until it has seen `count` messages, touching their data and
// headers. usage: nats-consume.ts <url> <stream> <count>
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';

const [url, stream, countArg] = process.argv.slice(2);
if (!url || !stream || !countArg) throw new Error('usage: nats-consume.ts <url> <stream> <count>');
const count = Number(countArg);
const nc = await connect({ servers: url.replace(/^nats:\/\//, '') });
const js = jetstream(nc);
const consumer = await js.consumers.get(stream);
const messages = await consumer.consume({ max_messages: 1000 });
let seen = 0;
let bytes = 0;
for await (const m of messages) {
  bytes += m.data.length + (m.headers?.keys().length ?? 0);
  if (++seen >= count) break;
}
await nc.close();
process.stdout.write(JSON.stringify({ consumed: seen, bytes }) + '\n');
