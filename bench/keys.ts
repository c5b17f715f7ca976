// Figure: key to frame. The real console in a 200x60 PTY on 2 x 50 sim agents: the time from
// writing a key (j / k: the agent cursor down / up) to the arrival of the output that shows its
// effect (the cursor marker on its new row, read by a headless terminal fed the PTY's output),
// under a 20k/s error flood over both ZMQ error buses, beside the same keys with no flood.
import { Child, dist, round, sleep, type Dist } from './lib/harness.js';
import { writeFleet } from './lib/fleet.js';
import { floodErrors, FLOOD_RATE } from './lib/flood.js';
import { consoleInPty, noPty, type Pty } from './lib/pty.js';
import type { Figure, Row } from './lib/report.js';
import { Screen } from './lib/screen.js';

export const KEYS_HOSTS = { mainpc: '127.0.81.15', pc2: '127.0.81.16' };
const COLS = 200;
const ROWS = 60;
/** A key whose frame has not arrived by then counts as this late. */
const GIVE_UP_MS = 3000;

/** `count` presses of j and k in turn, each timed from the write to the frame that shows it. */
async function presses(
  pty: Pty,
  screen: Screen,
  count: number,
): Promise<{ ms: number[]; missed: number }> {
  const top = screen.markerRow();
  if (top < 0) throw new Error(`no cursor marker on screen:\n${screen.text()}`);
  const ms: number[] = [];
  let missed = 0;
  for (let i = 0; i < count; i++) {
    const down = i % 2 === 0;
    const want = down ? top + 1 : top;
    const shown = screen.seen(() => screen.markerRow() === want, GIVE_UP_MS);
    const t0 = performance.now();
    pty.write(down ? 'j' : 'k');
    const at = await shown;
    if (at === undefined) missed++;
    ms.push(at === undefined ? GIVE_UP_MS : Math.max(0, at - t0));
    // Not in step with the console's own timers.
    await sleep(80 + Math.random() * 120);
  }
  return { ms, missed };
}

const received = (text: string) =>
  Number(/\(zmq ([\d,]+)/.exec(text)?.[1]?.replace(/,/g, '') ?? NaN);

export const keys: Figure = {
  id: 'keys',
  title: 'Key to frame',
  async run(ctx): Promise<Row[]> {
    const why = noPty();
    const row = (d: Partial<Row>): Row => ({
      id: 'keys.flood.p99',
      figure: 'Key to frame p99, 20k/s flood',
      unit: 'ms',
      opsdeck: NaN,
      ...d,
    });
    if (why) return [row({ notes: [`skipped: ${why}`] })];
    const count = ctx.quick ? 16 : 80;
    const fleet = writeFleet(ctx.tmp, 50, KEYS_HOSTS, 26000);
    const sim = new Child('sim.ts', [JSON.stringify(fleet)]);
    try {
      await sim.next('ready', 60_000);
      const pty = consoleInPty(fleet, ctx.tmp, { cols: COLS, rows: ROWS });
      const screen = new Screen(pty, ROWS, COLS);
      try {
        await pty.until(/MAINPC/, 20_000);
        await sleep(ctx.quick ? 2000 : 4000);
        const calm = await presses(pty, screen, count);
        const before = received(screen.text());
        await floodErrors(sim, FLOOD_RATE, 120);
        await sleep(1000);
        const t0 = performance.now();
        const flood = await presses(pty, screen, count);
        const seconds = (performance.now() - t0) / 1000;
        await floodErrors(sim, 0);
        await sleep(1000);
        const shownRate = (received(screen.text()) - before) / (seconds + 2);
        const c = dist(calm.ms);
        const f = dist(flood.ms);
        const fmt = (d: Dist) =>
          `p50 ${d.p50.toFixed(1)} ms, p99 ${d.p99.toFixed(1)} ms, max ${d.max.toFixed(1)} ms`;
        ctx.log(`  no flood: ${fmt(c)}; 20k/s flood: ${fmt(f)} (${flood.missed} missed)`);
        return [
          row({
            opsdeck: round(f.p99, 1),
            baseline: round(c.p99, 1),
            baselineIs: 'the same keys on the same console with no flood',
            ratio: round(f.p99 / Math.max(c.p99, 1), 2),
            ratioIs: 'flood / no flood (floored at 1 ms); lower is better',
            target: '< 50 ms',
            met: f.p99 < 50 && flood.missed === 0,
            notes: [
              `the real binary in a ${COLS}x${ROWS} PTY, Fleet screen, 2 x 50 sim agents probed every 2 s, NATS off; ${count} presses of j/k each way, 80-200 ms apart; a press is timed from its write to the PTY to the arrival of the output after which a headless terminal (xterm.js) shows the cursor on its new row`,
              `under the flood: ${fmt(f)}${flood.missed ? `, ${flood.missed} not shown within ${GIVE_UP_MS} ms` : ''}; no flood: ${fmt(c)}`,
              `the console's own counter showed ${Number.isFinite(shownRate) ? Math.round(shownRate).toLocaleString('en-US') : '?'} errors/s received over the flood window (the sim sends ${FLOOD_RATE.toLocaleString('en-US')}/s)`,
            ],
            details: {
              flood: f,
              calm: c,
              missed: flood.missed,
              shownRate: round(shownRate, 0),
              // Every press, so that runs can be pooled (p99 of 80 presses is their maximum).
              floodMs: flood.ms.map((x) => round(x, 1)),
              calmMs: calm.ms.map((x) => round(x, 1)),
            },
          }),
        ];
      } finally {
        pty.write('q');
        await Promise.race([pty.exited, sleep(3000)]);
        await pty.kill();
      }
    } finally {
      await sim.stop(10_000);
    }
  },
};
