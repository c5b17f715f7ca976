// ZMQ publisher for the ingest benchmark (its own process, so the measured one only consumes).
// XPUB with ZMQ_XPUB_NODROP: a consumer that falls behind slows this publisher down instead of
// losing frames at the high-water mark, so what is measured is how fast a consumer can go.
// Each `run` waits for the next subscription (the consumer has connected), then sends.
import { XPublisher } from 'zeromq';
import { childMain, toParent, type Msg } from '../lib/harness.js';
import { stamp, zmqTemplates } from '../lib/frames.js';

childMain(async () => {
  const endpoint = process.argv[2]!;
  const templates = zmqTemplates(1);
  const pub = new XPublisher({ sendHighWaterMark: 0, linger: 0 });
  await pub.bind(endpoint);
  // Subscriptions arrive as messages on an XPUB: [0x01 + topic] subscribe, [0x00 + topic] leave.
  // Each run is for the next subscriber (the consumer of that run), whether it subscribed
  // before or after the run was asked for.
  let subscriptions = 0;
  let used = 0;
  let wake: () => void = () => {};
  void (async () => {
    for await (const [msg] of pub) {
      if (msg && msg[0] === 1) {
        subscriptions++;
        wake();
      }
    }
  })().catch(() => {});
  const nextSubscriber = async () => {
    while (subscriptions <= used) await new Promise<void>((r) => (wake = r));
    used = subscriptions;
  };
  toParent({ type: 'ready' });
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') {
      pub.close();
      process.exit(0);
    }
    if (m.type !== 'run') return;
    const count = Number(m.count);
    const offset = Number(m.offset ?? 0);
    // A run's first chunk waits for that run's consumer; later chunks go to the same one.
    void (m.fresh === false ? Promise.resolve() : nextSubscriber()).then(async () => {
      toParent({ type: 'sending' });
      const started = performance.now();
      const n = templates.length;
      for (let i = offset; i < offset + count; i++)
        await pub.send(stamp(templates[i % n]!, Math.floor(i / n)));
      toParent({ type: 'sent', count, ms: performance.now() - started });
    });
  });
});
