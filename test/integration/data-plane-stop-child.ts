// A one-shot user of the data plane (errorbus phase show, status, doctor): starts a plane on the
// NATS server given and stops it while its JetStream error feed is still attaching, then simply
// returns. The process must end on its own: nothing of the plane may be left running.
//
// The interleaving is made certain rather than left to chance: the stop begins when the feed
// asks JetStream to create its consumer, and that request goes out once the connection drains
// (the order that leaked: nats.js's ordered consumer, refused on a draining connection, retries
// for ~15 min on a 30 s timer), or after 500 ms if stop() waits for the feed first.
import type { NatsConnection } from 'nats';
import { startDataPlane } from '../../source/wiring/data-plane.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const plane = startDataPlane({ machines: [], nats: process.argv[2]!, live: false });
const nc = (await plane.link!.connection()) as NatsConnection;
let stopping: Promise<void> | undefined;
const request = nc.request.bind(nc);
nc.request = async (subject, ...rest) => {
  if (subject.startsWith('$JS.API.CONSUMER.CREATE.') && !stopping) {
    stopping = plane.stop();
    for (let waited = 0; waited < 500 && !nc.isDraining() && !nc.isClosed(); waited += 10)
      await sleep(10);
  }
  return request(subject, ...rest);
};
for (let waited = 0; !stopping && waited < 5000; waited += 10) await sleep(10);
if (!stopping) throw new Error('the feed never created its consumer');
await stopping;
process.stdout.write(`stopped; feed ${plane.natsFeed() ? 'attached' : 'not attached'}\n`);
