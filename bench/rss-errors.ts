// How much memory the error pipeline keeps under a flood of distinct agents (issue 13, item 10):
// upstream-format frames (variant A, ~420 bytes, unique error ids) straight into an ErrorStore,
// the clock advanced as at the given rate, RSS and heap sampled as it goes and after a GC.
//
//   node --expose-gc --import tsx bench/rss-errors.ts [count] [agents] [rate]
//     count   errors (default 2,000,000)
//     agents  distinct agent names, cycled (default 20,000); 0: every error its own agent
//     rate    errors per second of the simulated clock (default 10,000)
//
// Two runs are the issue's: 2,000,000 20000 (target: RSS under 300 MB), and 1,200,000 0 (two
// minutes of 10k/s, every error from an agent never seen before).
import { ErrorStore } from '../source/stores/error-store.js';

const count = Number(process.argv[2] ?? 2_000_000);
const agents = Number(process.argv[3] ?? 20_000);
const rate = Number(process.argv[4] ?? 10_000);
const MB = 2 ** 20;
const gc = (globalThis as { gc?: () => void }).gc;

const store = new ErrorStore({ notifyMs: 250 });
const enc = new TextEncoder();
const frame = (i: number, now: number): Uint8Array[] => {
  const agent = `Agent${agents > 0 ? i % agents : i}`;
  return [
    enc.encode(
      `ERROR:${JSON.stringify({
        source: agent,
        timestamp: new Date(now).toISOString(),
        error_data: {
          error_id: `e-${i}-${(i * 2654435761) >>> 0}`,
          error_type: ['TimeoutError', 'ConnectionError', 'ValueError'][i % 3],
          severity: i % 7 === 0 ? 'critical' : 'error',
          details: {
            message: `request ${i % 500} to the model service failed after 3 retries`,
            host: `10.0.${i % 255}.${(i >> 8) % 255}`,
            trace: 'x'.repeat(120),
          },
        },
      })}`,
    ),
  ];
};

const started = Date.now();
const t0 = 1_750_000_000_000;
let peak = 0;
const sample = () => {
  const rss = process.memoryUsage.rss();
  peak = Math.max(peak, rss);
  return rss;
};
const report = (i: number) => {
  const m = process.memoryUsage();
  process.stderr.write(
    `${i.toLocaleString('en-US').padStart(10)} errors: RSS ${(sample() / MB).toFixed(0)} MB, heap ${(m.heapUsed / MB).toFixed(0)} MB, publishers ${store.pipeline.publishers.size}\n`,
  );
};
for (let i = 0; i < count; i++) {
  const now = t0 + Math.floor((i * 1000) / rate);
  store.zmq(frame(i, now), i % 2 ? 'pc2' : 'mainpc', now);
  if (i % 200_000 === 0) report(i);
  if (i % 20_000 === 0) {
    sample();
    store.flush(); // as the screen would, four times a second at 10k/s... roughly
  }
}
report(count);
const end = process.memoryUsage();
gc?.();
await new Promise((r) => setTimeout(r, 200));
const settled = process.memoryUsage();
const c = store.pipeline.counters;
process.stdout.write(
  `${JSON.stringify({
    count,
    agents: agents || 'unique',
    rate,
    seconds: Math.round((Date.now() - started) / 100) / 10,
    rssPeakMb: Math.round(peak / MB),
    rssEndMb: Math.round(end.rss / MB),
    rssAfterGcMb: gc ? Math.round(settled.rss / MB) : null,
    heapAfterGcMb: gc ? Math.round(settled.heapUsed / MB) : null,
    received: c.received.zmq,
    shown: c.shown,
    collapsed: c.collapsed,
    dedupEvicted: c.dedupEvicted,
    publishers: store.pipeline.publishers.size,
  })}\n`,
);
store.close();
