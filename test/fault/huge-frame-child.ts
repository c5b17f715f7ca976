// One receiving side of a huge ZMQ frame, in a process of its own so its RSS is measured alone:
//   sub <endpoint>                  the console's error-bus SUB (zmqErrors into an ErrorStore)
//   req <endpoint>                  a health probe's REQ (ZmqPirate) whose reply is the frame
//   bridge <host> <port> <nats>     the bridge's bound SUB (runBridge); publishers connect to it
// Prints `ready <rss>` once set up and `event <what>` for what it saw of the frame; on `done`
// from stdin (the sender saw the frame dealt with) it prints `max <rss>`, the highest RSS
// polled every 20 ms, and exits.
import { connect } from 'nats';
import { zmqErrors } from '../../source/adapters/error-sources.js';
import { ZmqPirate } from '../../source/adapters/zmq-probe.js';
import { runBridge } from '../../source/agent/bridge.js';
import { ErrorStore } from '../../source/stores/error-store.js';

const [mode, a, b, c] = process.argv.slice(2);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let max = 0;
const poll = setInterval(() => (max = Math.max(max, process.memoryUsage.rss())), 20);
const ready = async () => {
  await sleep(300);
  max = 0;
  console.log(`ready ${process.memoryUsage.rss()}`);
};
const done = new Promise<void>((resolve) => process.stdin.once('data', () => resolve()));
let stop: () => Promise<unknown> = async () => undefined;

if (mode === 'sub') {
  const store = new ErrorStore({ notifyMs: 10 });
  const close = zmqErrors(a!, 'pc2', store, { heartbeatMs: 60_000 });
  stop = async () => close();
  await ready();
  const watch = setInterval(() => {
    const snap = store.flush();
    if (snap.counters.malformed > 0) console.log(`event received ${snap.counters.malformed}`);
    if (snap.zmqLinks.pc2?.connected === false) console.log('event disconnected');
  }, 20);
  void done.then(() => clearInterval(watch));
} else if (mode === 'req') {
  const probe = new ZmqPirate(a!, 10_000);
  stop = async () => probe.close();
  await ready();
  void probe.request('health_check').then((r) => {
    console.log(`event ${r.kind === 'reply' ? `reply of ${r.text.length} chars` : r.kind}`);
  });
} else {
  const nc = await connect({ servers: c! });
  const bridge = await runBridge(nc, {
    machine: 'pc2',
    targets: [{ mode: 'bind', host: a!, port: Number(b), why: 'test' }],
    followPhase: false,
    statusMs: 60_000,
    log: () => undefined,
  });
  stop = async () => (await bridge.stop(0), await nc.close());
  await ready();
  const watch = setInterval(() => {
    const s = bridge.stats();
    if (s.received > 0) console.log(`event received ${s.received}`);
  }, 20);
  void done.then(() => clearInterval(watch));
}

await done;
await sleep(500); // whatever the frame left behind shows in the RSS by now
clearInterval(poll);
console.log(`max ${max}`);
await stop();
process.exit(0);
