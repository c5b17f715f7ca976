// Times the frames of an Ink app. Every frame starts in a timer task: a store's notification
// timer, the clock's interval, or Ink's throttle timer. React (legacy root) then renders and
// commits in that task's microtasks, Ink lays out and writes. So a frame's build time is from
// the start of the timer callback to the last write before the next timer callback: from the
// store notification to the stream write. Import this before anything that uses timers.

let recording = false;
let taskStart = 0;
let taskEnd = 0;
let taskWrites = 0;
let lastWriteAt = 0;
let inTask = false;
// CPU (user + system, all threads: mostly this one, plus V8's GC helpers) from the task's start
// to its last write: what a frame costs, which the wall-clock figure mixes with the machine's load.
let cpuStart = process.cpuUsage();
let cpuAtWrite = cpuStart;
export const frameTasks: number[] = [];
export const frameCpu: number[] = [];
/** What started each frame: the store that notified, or the timer callback's name. */
export const frameCauses: string[] = [];
/** When each frame started (performance.now()): GC pauses are matched to frames by time. */
export const frameStarts: number[] = [];
export const otherTasks: number[] = [];
let cause = '';

/** Call from the fake stdout's write(). */
export const noteWrite = (): void => {
  lastWriteAt = performance.now();
  cpuAtWrite = process.cpuUsage();
  taskWrites++;
};

function finish(): void {
  if (recording && inTask) {
    (taskWrites > 0 ? frameTasks : otherTasks).push(
      taskWrites > 0 ? lastWriteAt - taskStart : taskEnd - taskStart,
    );
    if (taskWrites > 0) {
      frameCpu.push((cpuAtWrite.user - cpuStart.user + cpuAtWrite.system - cpuStart.system) / 1000);
      frameCauses.push(cause);
      frameStarts.push(taskStart);
    }
  }
  inTask = false;
}

function start(why: string): void {
  finish();
  cause = why;
  inTask = true;
  taskWrites = 0;
  taskStart = performance.now();
  cpuStart = process.cpuUsage();
}

/**
 * A frame that starts outside a timer task: a store notifying from an I/O callback (the health
 * store publishes when its probe round ends, in a socket's callback). Call it from a listener
 * subscribed before React's, so the frame is timed from the notification, not from whatever
 * timer ran last (which made such frames look as long as the gap since that timer).
 */
export function noteFrameStart(why = 'store'): void {
  start(why);
}

export function recordTasks(on: boolean): void {
  finish();
  recording = on;
}

export function resetTasks(): void {
  frameTasks.length = 0;
  frameCpu.length = 0;
  frameCauses.length = 0;
  frameStarts.length = 0;
  otherTasks.length = 0;
}

type Fn = (...args: unknown[]) => unknown;

function timed(fn: Fn): Fn {
  const why = `timer ${fn.name || 'anonymous'}`;
  return function (this: unknown, ...args: unknown[]) {
    start(why);
    try {
      return fn.apply(this, args);
    } finally {
      taskEnd = performance.now();
    }
  };
}

const g = globalThis as unknown as Record<string, Fn>;
for (const name of ['setTimeout', 'setInterval', 'setImmediate']) {
  const original = g[name]!;
  const wrapped = function (this: unknown, fn: unknown, ...rest: unknown[]) {
    return original.call(this, typeof fn === 'function' ? timed(fn as Fn) : fn, ...rest);
  };
  Object.assign(wrapped, original); // util.promisify.custom and friends
  g[name] = wrapped;
}
