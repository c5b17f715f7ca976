// A NATS error feed stopped while a rescan is attaching a stream it just found (the console
// quitting a second after `opsdeck errorbus fix-streams` created ERRORS), its connection drained
// right after, as NatsLink.close() does. The process must end on its own.
//
// The interleaving is made certain: the stop begins when the rescan asks JetStream to create
// its consumer, and that request goes out once the connection drains (the order that leaked:
// stop() did not wait for the scan, nothing checked it was stopped, and nats.js's ordered
// consumer, refused on the draining connection, retried for ~15 min on a 30 s timer), or after
// 500 ms if stop() waits for the scan first.
import { connect, StorageType } from 'nats';
import { natsErrors } from '../../source/adapters/error-sources.js';
import { ErrorStore } from '../../source/stores/error-store.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const url = process.argv[2]!;
const nc = await connect({ servers: url });
const store = new ErrorStore();
// No error stream yet: a core subscription, and a look for streams every 100 ms.
const feed = await natsErrors(nc, store, {
  machineOf: () => 'mainpc',
  retryMs: 100,
  rescanMs: 100,
});
let stopping: Promise<void> | undefined;
const request = nc.request.bind(nc);
nc.request = async (subject, ...rest) => {
  if (subject.startsWith('$JS.API.CONSUMER.CREATE.') && !stopping) {
    stopping = (async () => {
      await feed.stop();
      await nc.drain();
    })();
    for (let waited = 0; waited < 500 && !nc.isDraining() && !nc.isClosed(); waited += 10)
      await sleep(10);
  }
  return request(subject, ...rest);
};
const other = await connect({ servers: url });
await (
  await other.jetstreamManager()
).streams.add({ name: 'ERRORS', subjects: ['errors.>'], storage: StorageType.Memory });
await other.close();
for (let waited = 0; !stopping && waited < 5000; waited += 10) await sleep(10);
if (!stopping) throw new Error('the rescan never created its consumer');
await stopping;
store.close();
process.stdout.write(`stopped; mode ${feed.mode()}\n`);
