// NATS publisher for the ingest benchmark (its own process). Core publishes of both upstream
// libraries' bodies on their real subjects (nats_error_bus.py with its headers, nats_client.py):
// a core subscriber receives them live, and a stream on errors.> stores them for the JetStream runs.
import { connect, headers as natsHeaders, type MsgHdrs } from 'nats';
import { childMain, toParent, type Msg } from '../lib/harness.js';
import { natsTemplates, stamp } from '../lib/frames.js';

childMain(async () => {
  const url = process.argv[2]!;
  const templates = natsTemplates(1).map((t) => {
    let h: MsgHdrs | undefined;
    if (t.headers) {
      h = natsHeaders();
      for (const [k, v] of Object.entries(t.headers)) h.set(k, v);
    }
    return { t, subject: t.subject!, headers: h };
  });
  const nc = await connect({ servers: url, name: 'bench-publisher' });
  toParent({ type: 'ready' });
  process.on('message', (m: Msg) => {
    if (m.type === 'stop') void nc.close().then(() => process.exit(0));
    if (m.type !== 'run') return;
    const count = Number(m.count);
    const offset = Number(m.offset ?? 0);
    void (async () => {
      const started = performance.now();
      const n = templates.length;
      for (let i = offset; i < offset + count; i++) {
        const { t, subject, headers } = templates[i % n]!;
        const [body] = stamp(t, Math.floor(i / n));
        if (headers) nc.publish(subject, body, { headers });
        else nc.publish(subject, body);
        // Let the socket drain now and then: nats.js buffers everything published in one tick.
        if ((i & 4095) === 4095) await nc.flush();
      }
      await nc.flush();
      toParent({ type: 'sent', count, ms: performance.now() - started });
    })();
  });
});
