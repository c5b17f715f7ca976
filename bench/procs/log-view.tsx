// The console's log view in its own process: the LogStore watching one agent over NATS and the
// Logs screen drawn by Ink (200x60, into a sink) on every notification, as the console draws it.
// Reports the lines shown per second, the skipped count it shows, and its event-loop delay.
import { render, Box } from 'ink';
import { Writable } from 'node:stream';
import { connect } from 'nats';
import { Logs } from '../../source/screens/logs.js';
import { watchLogs } from '../../source/adapters/log-client.js';
import { LogStore } from '../../source/stores/log-store.js';
import { logRows } from '../../source/core/ui/log-view.js';
import { useStore } from '../../source/hooks/use-store.js';
import { childMain, loopDelay, sleep, toParent } from '../lib/harness.js';

function View({ store }: { store: LogStore }) {
  const log = useStore(store);
  return (
    <Box>
      <Logs
        agentKey="mainpc/Agent000"
        log={log}
        rows={logRows(log, undefined, '')}
        follow
        scroll={0}
        wrap={false}
        filter=""
        width={200}
        height={58}
      />
    </Box>
  );
}

childMain(async () => {
  const [url, key, seconds] = process.argv.slice(2) as [string, string, string];
  const nc = await connect({ servers: url });
  const store = new LogStore(() => (target, on) => watchLogs(nc, target, on));
  let frames = 0;
  const sink = new Writable({
    write(_c, _e, cb) {
      frames++;
      cb();
    },
  }) as unknown as NodeJS.WriteStream;
  Object.assign(sink, { columns: 200, rows: 60, isTTY: true });
  const app = render(<View store={store} />, { stdout: sink, patchConsole: false, maxFps: 30 });
  store.open(key);
  await sleep(1500); // the opening lines
  const before = store.getSnapshot();
  const skipped0 = before.skipped;
  toParent({ type: 'watching' });
  const delay = loopDelay();
  const began = performance.now();
  await sleep(Number(seconds) * 1000);
  const d = delay.stop();
  const s = store.getSnapshot();
  const elapsed = (performance.now() - began) / 1000;
  // The ring holds 5,000 items: at the capped rate the window's items are all still there.
  const fresh = s.items.slice(Math.max(0, before.total - s.first));
  toParent({
    type: 'result',
    linesPerS: fresh.filter((i) => i.kind === 'line').length / elapsed,
    itemsPerS: (s.total - before.total) / elapsed,
    skipped: s.skipped - skipped0,
    rate: s.rate ?? 0,
    frames,
    p99: d.p99,
    p50: d.p50,
    max: d.max,
  });
  store.stop();
  app.unmount();
  await nc.close();
  process.exit(0);
});
