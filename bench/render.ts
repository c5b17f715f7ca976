// Figure 4: render. The Fleet screen (<App>, real stores) drawn by Ink into a 200x60 fake
// terminal with 2 x 100 agents (the sim, in its own process) and a full error buffer: frame
// build time p50/p99 after 10 s of warm-up frames (timed apart). Then a 20k/s flood from the sim's agents over both ZMQ error buses:
// event-loop delay p99 while the console ingests it and keeps drawing.
import { fileURLToPath } from 'node:url';
import { Child, dist, round } from './lib/harness.js';
import { control, floodErrors, FLOOD_RATE } from './lib/flood.js';
import { writeFleet } from './lib/fleet.js';
import { terminalEnv } from './lib/pty.js';
import type { Figure, Row } from './lib/report.js';
import { consoleEnv } from './lib/console-env.js';

export const RENDER_HOSTS = { mainpc: '127.0.81.9', pc2: '127.0.81.10' };

interface RenderResult {
  frames: number[];
  /** Per frame, CPU ms (process.cpuUsage) from its start to its last write. */
  cpu: number[];
  /** What started each frame (bench/lib/task-timer.ts). */
  causes?: string[];
  /** The GC pause time (ms) inside each steady frame. */
  gc?: number[];
  /** How long after the last probe round's notification each steady frame started (ms). */
  afterRound?: number[];
  /** The frames of the warm-up before the steady window (JIT still compiling the frame path). */
  warmFrames?: number[];
  warmCpu?: number[];
  floodFrames: number[];
  floodCpu: number[];
  otherTasks: number;
  loop: { p50: number; p99: number; max: number };
  rssBefore: number;
  rssAfter: number;
  received: number;
  inWindow: number;
  drainMs: number;
  filled?: number;
  healthy?: number;
  counters?: Record<string, unknown>;
}

interface BusStatus {
  machines: { id: string; bus: { sent: number; dropped: number } }[];
}

const busSent = (s: BusStatus) => s.machines.reduce((n, m) => n + m.bus.sent, 0);
const busDropped = (s: BusStatus) => s.machines.reduce((n, m) => n + m.bus.dropped, 0);

export const render: Figure = {
  id: 'render',
  title: 'Render',
  async run(ctx): Promise<Row[]> {
    // OPSDECK_BENCH_STEADY_MS: a longer steady window (more frames: the p99 of 16 is their max).
    const steadyMs = Number(process.env.OPSDECK_BENCH_STEADY_MS ?? (ctx.quick ? 1500 : 5000));
    // The first seconds of frames are V8 compiling the frame path (TurboFan): 15-70 ms frames
    // that a console open for hours draws once. Timed apart, printed beside the figure.
    const warmMs = Number(process.env.OPSDECK_BENCH_WARM_MS ?? (ctx.quick ? 500 : 10_000));
    const floodMs = ctx.quick ? 2000 : 5000;
    const fleet = writeFleet(ctx.tmp, 100, RENDER_HOSTS, 24000);
    const sim = new Child('sim.ts', [JSON.stringify(fleet)]);
    const results: Record<string, RenderResult & { sent: number; simDropped: number }> = {};
    try {
      const ready = await sim.next('ready', 60_000);
      ctx.log(
        `render: sim with ${ready.up} agents; ${steadyMs} ms of frames, then ${floodMs} ms of a ${FLOOD_RATE.toLocaleString('en-US')}/s flood; baseline then opsdeck`,
      );
      for (const mode of ['baseline', 'opsdeck']) {
        const child = new Child(
          'render.tsx',
          [
            mode,
            JSON.stringify(fleet),
            String(steadyMs),
            String(floodMs),
            String(ctx.quick ? 4000 : 8000),
            String(warmMs),
          ],
          // Ink's dependencies as the console's bundle has them (bench/lib/bundle-patches.mjs).
          {
            env: terminalEnv(consoleEnv()),
            execArgv: [
              '--import',
              fileURLToPath(new URL('./lib/bundle-patches.mjs', import.meta.url)),
            ],
          },
        );
        try {
          await child.next('flood', 60_000 + warmMs + steadyMs);
          const before = (await control(sim, { fault: 'status' })) as unknown as BusStatus;
          await floodErrors(sim, FLOOD_RATE, floodMs / 1000 + 5);
          child.send({ type: 'flooding' });
          await child.next('flood-end', floodMs + 30_000);
          await floodErrors(sim, 0);
          const after = (await control(sim, { fault: 'status' })) as unknown as BusStatus;
          child.send({ type: 'flood-stopped' });
          const r = (await child.next('result', 60_000)) as unknown as RenderResult;
          // No frame means nothing was measured (Ink draws nothing in its CI mode): say so, not NaN.
          if (r.frames.length === 0)
            throw new Error(
              `${mode}: no frame was drawn in the ${steadyMs} ms steady window (CI=${process.env.CI ?? ''} in the child's env puts Ink in its CI mode)`,
            );
          results[mode] = {
            ...r,
            sent: busSent(after) - busSent(before),
            simDropped: busDropped(after) - busDropped(before),
          };
          const f = dist(r.frames);
          const c = dist(r.cpu);
          ctx.log(
            `  ${mode.padEnd(8)} frames p50 ${f.p50.toFixed(1)} ms p99 ${f.p99.toFixed(1)} ms (${f.n}), CPU mean ${c.mean.toFixed(1)} p50 ${c.p50.toFixed(1)} p99 ${c.p99.toFixed(1)} ms; flood: loop delay p99 ${r.loop.p99.toFixed(1)} ms, ${dist(r.floodFrames).n} frames p99 ${dist(r.floodFrames).p99.toFixed(1)} ms, RSS ${r.rssBefore.toFixed(0)} -> ${r.rssAfter.toFixed(0)} MB`,
          );
        } finally {
          await child.stop(3000);
        }
      }
    } finally {
      await sim.stop(10_000);
    }
    const o = results.opsdeck!;
    const b = results.baseline!;
    const of = dist(o.frames);
    const bf = dist(b.frames);
    const off = dist(o.floodFrames);
    const flood = (r: (typeof results)[string]) =>
      `the sim sent ${r.sent.toLocaleString('en-US')} frames in the flood window (${Math.round(r.sent / (floodMs / 1000)).toLocaleString('en-US')}/s${r.simDropped ? `, ${r.simDropped} dropped in the sim's own queue` : ''})`;
    const warm = (r: RenderResult) => {
      const d = dist(r.warmFrames ?? []);
      return d.n ? `${d.n} frames, p50 ${d.p50.toFixed(1)} ms, p99 ${d.p99.toFixed(1)} ms` : 'none';
    };
    const gcNote = (r: RenderResult) => {
      const inFrames = (r.gc ?? []).filter((ms) => ms > 0);
      const sum = inFrames.reduce((a, b) => a + b, 0);
      return `${inFrames.length} of ${r.frames.length} steady frames had one (${sum.toFixed(1)} ms in all, the longest ${Math.max(0, ...inFrames).toFixed(1)} ms)`;
    };
    const frameNotes = [
      `opsdeck: <App> on the Fleet screen, 200x60, ${o.healthy}/200 agents healthy, error buffer ${o.filled} rows (full) and 50 new errors/s, maxFps 60 as the console (MAX_FPS; the plain Ink baseline 15), error notifications and shared Ink caches as the console; a frame = from what started it (a timer task, a store notification) to its last write (React -> Yoga -> Ink -> write)`,
      `GC pauses inside frames: ${gcNote(o)}`,
      `frame CPU (process.cpuUsage from its start to its last write, all threads): mean ${dist(o.cpu).mean.toFixed(1)} ms, p50 ${dist(o.cpu).p50.toFixed(1)} ms, p99 ${dist(o.cpu).p99.toFixed(1)} ms`,
      `before the window, ${warmMs / 1000} s of warm-up frames (V8 compiling the frame path), not in the figure: ${warm(o)}; the baseline's: ${warm(b)}`,
      `${of.n} frames in ${steadyMs / 1000} s steady; during the flood ${off.n} frames, p50 ${off.p50.toFixed(1)} ms, p99 ${off.p99.toFixed(1)} ms, max ${off.max.toFixed(1)} ms`,
    ];
    return [
      {
        id: 'render.frame.p50',
        figure: 'Frame build p50 (Fleet 200x60)',
        unit: 'ms',
        opsdeck: round(of.p50, 2),
        baseline: round(bf.p50, 2),
        baselineIs:
          "Ink drawing a plain 200x60 screen of text, one line changing every 100 ms (Ink's floor for a full-screen frame)",
        ratio: round(of.p50 / bf.p50, 2),
        ratioIs: 'opsdeck / baseline; lower is better',
        notes: frameNotes,
        details: {
          opsdeck: of,
          baseline: bf,
          flood: off,
          warm: { opsdeck: dist(o.warmFrames ?? []), baseline: dist(b.warmFrames ?? []) },
          cpu: { opsdeck: dist(o.cpu), baseline: dist(b.cpu), flood: dist(o.floodCpu) },
          // Each steady frame (wall ms, CPU ms, what started it, GC ms inside it, ms since the last
          // probe round's notification), in order.
          framesMs: o.frames.map((ms, i) => [
            round(ms, 1),
            round(o.cpu[i] ?? NaN, 1),
            o.causes?.[i] ?? '',
            round(o.gc?.[i] ?? NaN, 1),
            round(o.afterRound?.[i] ?? NaN, 0),
          ]),
        },
      },
      {
        id: 'render.frame.p99',
        figure: 'Frame build p99 (Fleet 200x60)',
        unit: 'ms',
        opsdeck: round(of.p99, 2),
        baseline: round(bf.p99, 2),
        ratio: round(of.p99 / bf.p99, 2),
        ratioIs: 'opsdeck / baseline; lower is better',
        target: '< 16 ms',
        met: of.p99 < 16,
      },
      {
        id: 'render.loop.p99',
        figure: 'Loop delay p99, 20k/s flood',
        unit: 'ms',
        opsdeck: round(o.loop.p99, 1),
        baseline: round(b.loop.p99, 1),
        baselineIs:
          'a bare zeromq.js SUB on both error buses counting the same flood, nothing drawn',
        ratio: round(Math.max(o.loop.p99, 1) / Math.max(b.loop.p99, 1), 2),
        ratioIs: 'opsdeck / baseline (each floored at 1 ms); lower is better',
        target: '< 50 ms',
        met: o.loop.p99 < 50,
        notes: [
          `opsdeck ingested ${o.inWindow.toLocaleString('en-US')} frames during the ${floodMs / 1000} s window while drawing, ${o.received.toLocaleString('en-US')} in all after ${(o.drainMs / 1000).toFixed(1)} s more of draining; ${flood(o)}${o.received < o.sent ? `: ${(o.sent - o.received).toLocaleString('en-US')} LOST (ZMQ high-water mark)` : ''}; loop delay max ${o.loop.max.toFixed(1)} ms`,
          `baseline counted ${b.inWindow.toLocaleString('en-US')} during the window, ${b.received.toLocaleString('en-US')} in all; ${flood(b)}${b.received < b.sent ? `: ${(b.sent - b.received).toLocaleString('en-US')} LOST` : ''}`,
          `RSS of the console process across the flood: ${o.rssBefore.toFixed(0)} -> ${o.rssAfter.toFixed(0)} MB (baseline ${b.rssBefore.toFixed(0)} -> ${b.rssAfter.toFixed(0)} MB)`,
        ],
        details: {
          opsdeck: {
            loop: o.loop,
            inWindow: o.inWindow,
            received: o.received,
            sent: o.sent,
            drainMs: round(o.drainMs, 0),
            rss: [round(o.rssBefore, 1), round(o.rssAfter, 1)],
          },
          baseline: {
            loop: b.loop,
            inWindow: b.inWindow,
            received: b.received,
            sent: b.sent,
            drainMs: round(b.drainMs, 0),
            rss: [round(b.rssBefore, 1), round(b.rssAfter, 1)],
          },
        },
      },
    ];
  },
};
