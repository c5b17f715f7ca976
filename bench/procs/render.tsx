// The measured process of the render figure. Modes:
//   opsdeck:  <App> on the Fleet screen with the real data plane (health probes of the sim's
//             2 x 100 agents, the ZMQ error buses), rendered by Ink into a 200x60 fake terminal,
//             the error buffer full. Frames are timed (task-timer), then a flood is ingested.
//   baseline: Ink drawing a plain 200x60 screen of text that changes every 100 ms (Ink's own
//             floor for a full-screen frame), and a bare zeromq.js SUB on the same error buses
//             counting the same flood.
import {
  frameCauses,
  frameStarts,
  frameCpu,
  frameTasks,
  noteFrameStart,
  noteWrite,
  otherTasks,
  recordTasks,
  resetTasks,
} from '../lib/task-timer.js';
import { EventEmitter } from 'node:events';
import { PerformanceObserver } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { Box, render, Text } from 'ink';
import { useSyncExternalStore } from 'react';
import { Subscriber } from 'zeromq';
import { loadFleet } from '../../source/adapters/fleet-files.js';
import { App, type ActionCatalog } from '../../source/app.js';
import { ERROR_NOTIFY_MS, MAX_FPS } from '../../source/console.js';
import { DiffTerminal } from '../../source/terminal/diff-terminal.js';
import { shareInkCaches } from '../../source/components/ink-caches.js';
import { themeFor } from '../../source/components/theme.js';
import { checkPorts } from '../../source/core/ports/rules.js';
import { ActionRunner } from '../../source/stores/action-runner.js';
import { errorBusEndpoint, startDataPlane } from '../../source/wiring/data-plane.js';
import { Emitter } from '../../source/core/emitter.js';
import { auditLog } from '../../source/adapters/audit.js';
import { lintChild } from '../../source/adapters/lint-run.js';
import { PhaseStore } from '../../source/stores/phase-store.js';
import { LintStore } from '../../source/stores/lint-store.js';
import { SecurityStore } from '../../source/stores/security-store.js';
import { childMain, loopDelay, rssMb, sleep, toParent, type Msg } from '../lib/harness.js';
import { stamp, zmqTemplates } from '../lib/frames.js';
import type { BenchFleet } from '../lib/fleet.js';

const [mode = '', fleetJson = '', steadyArg = '', floodArg = '', drainArg = '', warmArg = '0'] =
  process.argv.slice(2);
const steadyMs = Number(steadyArg);
/** Frames drawn first and kept apart: V8 is still compiling the frame path (TurboFan). */
const warmMs = Number(warmArg);
const floodMs = Number(floodArg);
const COLS = 200;
const ROWS = 60;

class FakeStdout extends Writable {
  columns = COLS;
  rows = ROWS;
  isTTY = true;
  bytes = 0;
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.bytes += chunk.length;
    noteWrite();
    done();
  }
}

/** Ink calls these on a TTY stdin for their effect on the terminal; here there is none. */
class FakeStdin extends EventEmitter {
  isTTY = true;
  private readonly self = (): this => this;
  setRawMode = this.self;
  setEncoding = this.self;
  resume = this.self;
  pause = this.self;
  ref = this.self;
  unref = this.self;
  read = (): null => null;
}

const parentSays = (type: string) =>
  new Promise<Msg>((resolve) => {
    const on = (m: Msg) => {
      if (m.type !== type) return;
      process.off('message', on);
      resolve(m);
    };
    process.on('message', on);
  });

/** When the health store notified (a probe round ended), performance.now(). */
const rounds: number[] = [];

/** GC pauses (start, ms), from V8 through perf_hooks. */
const pauses: [number, number][] = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) pauses.push([e.startTime, e.duration]);
}).observe({ entryTypes: ['gc'] });

/** The GC pause time (ms) inside each frame, from its start to its end. */
const gcInFrames = (starts: readonly number[], lengths: readonly number[]): number[] =>
  starts.map((at, i) => {
    const end = at + lengths[i]!;
    let ms = 0;
    for (const [from, d] of pauses) if (from < end && from + d > at) ms += d;
    return ms;
  });

/** The frames of the next `ms` (the timer's records stay readable until the next call). */
async function framesOver(ms: number) {
  resetTasks();
  recordTasks(true);
  await sleep(ms);
  recordTasks(false);
  return { frames: [...frameTasks], cpu: [...frameCpu] };
}

/** Frames for `ms`, then the flood (the parent starts it in the sim when told `flood`). */
async function measure(steady: () => Promise<void>, received: () => number) {
  const { frames: warmFrames, cpu: warmCpu } = await framesOver(warmMs);
  const { frames, cpu } = await framesOver(steadyMs);
  const causes = [...frameCauses];
  // Pauses are reported a moment after they end: let the observer catch up.
  await sleep(50);
  const gc = gcInFrames(frameStarts, frames);
  // How long after the last probe round's notification each frame started (ms).
  const afterRound = frameStarts.map((at) => {
    let last = -Infinity;
    for (const t of rounds) if (t <= at) last = t;
    return at - last;
  });
  const tasks = otherTasks.length;
  await steady();
  resetTasks();
  const rssBefore = rssMb();
  const receivedBefore = received();
  toParent({ type: 'flood' });
  await parentSays('flooding');
  const delay = loopDelay();
  recordTasks(true);
  await sleep(floodMs);
  recordTasks(false);
  const loop = delay.stop();
  const inWindow = received() - receivedBefore;
  toParent({ type: 'flood-end' });
  await parentSays('flood-stopped');
  // What was still queued when the flood stopped: drain until nothing more arrives (within a limit).
  const drainStart = performance.now();
  let last = -1;
  while (received() !== last && performance.now() - drainStart < Number(drainArg)) {
    last = received();
    await sleep(1000);
  }
  return {
    frames,
    cpu,
    causes,
    gc,
    afterRound,
    warmFrames,
    warmCpu,
    otherTasks: tasks,
    floodFrames: [...frameTasks],
    floodCpu: [...frameCpu],
    loop,
    rssBefore,
    rssAfter: rssMb(),
    inWindow,
    received: received() - receivedBefore,
    drainMs: performance.now() - drainStart - 1000,
  };
}

childMain(async () => {
  const fleet = JSON.parse(fleetJson) as BenchFleet;
  const loaded = loadFleet(fleet.files, fleet.env);
  if (!loaded.ok) throw new Error('fleet did not load');
  const machines = loaded.machines;
  const stdout = new FakeStdout();
  const stdin = new FakeStdin();
  // opsdeck draws as the console does: through the diff writer, at the console's frame cap.
  const terminal = mode === 'opsdeck' ? new DiffTerminal(stdout) : undefined;
  const io = {
    stdout: (terminal ?? stdout) as unknown as NodeJS.WriteStream,
    stdin: stdin as unknown as NodeJS.ReadStream,
    stderr: (terminal ?? process.stderr) as unknown as NodeJS.WriteStream,
    exitOnCtrlC: false,
    patchConsole: false,
    maxFps: mode === 'opsdeck' ? MAX_FPS : 15,
  };

  if (mode === 'opsdeck') {
    // The console's settings (source/console.tsx); OPSDECK_BENCH_NOTIFY_MS tries another error
    // store notification period.
    const notifyMs = Number(process.env.OPSDECK_BENCH_NOTIFY_MS ?? ERROR_NOTIFY_MS);
    await shareInkCaches();
    const plane = startDataPlane({
      machines,
      health: { intervalMs: 2000, timeoutMs: 1000 },
      errors: { notifyMs },
    });
    // A full error buffer: distinct errors from an hour ago, spread out so the flood rules keep
    // them as rows of their own, until the ring (5,000 rows) is full.
    const templates = zmqTemplates(2);
    const start = Date.now() - 3_600_000;
    let n = 0;
    const inject = (at: number) => {
      plane.errors.zmq(
        stamp(templates[n % templates.length]!, Math.floor(n / templates.length)),
        n % 2 ? 'pc2' : 'mainpc',
        at,
      );
      n++;
    };
    while (n < 40_000 && (n % 500 !== 0 || plane.errors.flush().rows.length < 5000))
      inject(start + n * 90);
    const filled = plane.errors.flush().rows.length;
    // Subscribed before <App>'s own listeners: a notification starts a frame (see noteFrameStart).
    plane.health.subscribe(() => {
      rounds.push(performance.now());
      noteFrameStart('health');
    });
    plane.errors.subscribe(() => noteFrameStart('errors'));
    const EMPTY: ActionCatalog = { entries: [], make: () => undefined };
    const instance = render(
      <App
        plane={plane}
        phase={new PhaseStore()}
        runner={new ActionRunner(auditLog())}
        actions={EMPTY}
        ports={checkPorts(machines, { env: fleet.env })}
        lint={new LintStore(lintChild)}
        security={
          new SecurityStore(
            machines.map((m) => m.id),
            '/nonexistent',
            () => [],
          )
        }
        theme={themeFor({})}
        intervalMs={2000}
        initialScreen="fleet"
        onExit={() => {}}
      />,
      io,
    );
    // Every agent probed and answering before frames are timed.
    const deadline = Date.now() + 15_000;
    const answered = () =>
      [...plane.health.getSnapshot().agents.values()].filter((h) => h.state === 'healthy').length;
    while (answered() < fleet.agents && Date.now() < deadline) await sleep(200);
    const healthy = answered();
    await sleep(500);
    // Live errors while frames are timed: a few new ones every 100 ms, so the error store
    // notifies at its period (ERROR_NOTIFY_MS) as it does whenever errors arrive.
    const live = setInterval(() => {
      for (let i = 0; i < 5; i++) inject(Date.now());
    }, 100);
    const result = await measure(
      async () => clearInterval(live),
      () => plane.errors.pipeline.counters.received.zmq,
    );
    const counters = plane.errors.flush().counters;
    instance.unmount();
    await plane.stop();
    toParent({ type: 'result', mode, filled, healthy, ...result, counters, bytes: stdout.bytes });
  } else {
    // Ink's floor: 60 lines of 200 columns, one of them changing every 100 ms.
    const emitter = new Emitter();
    let tick = 0;
    const line = (i: number) =>
      `${String(i).padStart(3)} ${'agent-row text '.repeat(13)}`.slice(0, COLS - 2);
    const Screen = () => {
      const t = useSyncExternalStore(
        (l) => emitter.subscribe(l),
        () => tick,
      );
      return (
        <Box flexDirection="column" width={COLS}>
          {Array.from({ length: ROWS - 1 }, (_, i) => (
            <Text key={i} wrap="truncate">
              {i === 0 ? `tick ${t} ${line(i)}` : line(i)}
            </Text>
          ))}
        </Box>
      );
    };
    const instance = render(<Screen />, io);
    const timer = setInterval(() => {
      tick++;
      emitter.emit();
    }, 100);
    // The same flood, counted by a bare SUB per machine's error bus.
    let received = 0;
    const subs = machines.map((m) => {
      const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 100_000 });
      sub.connect(errorBusEndpoint(m));
      sub.subscribe();
      void (async () => {
        for await (const _ of sub) received++;
      })().catch(() => {});
      return sub;
    });
    await sleep(1000);
    const result = await measure(
      async () => clearInterval(timer),
      () => received,
    );
    instance.unmount();
    for (const s of subs) s.close();
    toParent({ type: 'result', mode, ...result, bytes: stdout.bytes });
  }
  setTimeout(() => process.exit(0), 100);
});
