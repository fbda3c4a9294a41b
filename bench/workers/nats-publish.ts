// Baseline (and seeder): a plain NATS JetStream publisher (@nats-io/jetstream js.publish, each
// message counted once its publish acknowledgement came, a window of them in flight like mqbak's
// sink) of the data file's records, with their headers, on <stream>.<n mod 8>. Creates the
// stream (limits retention, subjects <stream>.>) when missing.
// usage: nats-publish.ts <url> <stream> <data-file> [window]
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { readDataFile } from '../lib/data.js';

const [url, stream, file, windowArg] = process.argv.slice(2);
if (!url || !stream || !file) throw new Error('usage: nats-publish.ts <url> <stream> <data-file> [window]');
const window = Number(windowArg ?? 256);
const nc = await connect({ servers: url.replace(/^nats:\/\//, '') });
const jsm = await jetstreamManager(nc);
await jsm.streams.info(stream).catch(() => jsm.streams.add({ name: stream, subjects: [`${stream}.>`] }));
const js = jetstream(nc);
let n = 0;
const inFlight = new Set<Promise<unknown>>();
for (const recs of readDataFile(file, 1000)) {
  for (const r of recs) {
    while (inFlight.size >= window) await Promise.race(inFlight);
    const h = natsHeaders();
    for (const [k, v] of r.headers) h.append(k, v.toString());
    const p = js.publish(`${stream}.${n % 8}`, r.value, { headers: h });
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
    n++;
  }
}
await Promise.all(inFlight);
await nc.close();
process.stdout.write(JSON.stringify({ published: n }) + '\n');
