// The benchmark's small shared harness: statistics, CPU and memory readings, event-loop delay,
// child processes (TypeScript through tsx, with an IPC channel), /proc readings.
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Nearest-rank percentile of `values` (0 < p <= 100). */
export function pct(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[
    Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  ]!;
}

export const median = (values: readonly number[]): number => pct(values, 50);

export interface Dist {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function dist(values: readonly number[]): Dist {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : NaN;
  return {
    n: values.length,
    p50: pct(values, 50),
    p99: pct(values, 99),
    max: values.length ? Math.max(...values) : NaN,
    mean,
  };
}

export const round = (x: number, digits = 2): number =>
  Number.isFinite(x) ? Number(x.toFixed(digits)) : x;

/** CPU time (user + system, all threads) since `since`, in ms. */
export function cpuMsSince(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

export const rssMb = (): number => process.memoryUsage().rss / 2 ** 20;

/** Event-loop delay (ms) from perf_hooks, 10 ms resolution as Node recommends for this use. */
export function loopDelay(): { stop(): { p50: number; p99: number; max: number } } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    stop() {
      h.disable();
      // The histogram includes the sampling resolution itself: subtract it, as the docs advise.
      const ms = (ns: number) => Math.max(0, ns / 1e6 - 10);
      return { p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) };
    },
  };
}

/** CPU time (ms) a process has used, from /proc/<pid>/stat (utime + stime). */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": field 3 is state, so utime (14) and stime (15) are at 11 and 12.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
}

/**
 * CPU time (ms) of another process per kind of thread, from /proc/<pid>/task: `main` (the event
 * loop: JS), `zmq` (libzmq's I/O and reaper threads), `other` (V8's GC and compiler helpers,
 * libuv's pool). Threads that ended since are not counted.
 */
export function procThreadCpuMs(pid: number): {
  main: number;
  zmq: number;
  other: number;
  /** By thread name (V8's GC and compiler threads, libuv's pool): which helper it is. */
  byName: Record<string, number>;
} {
  const out = { main: 0, zmq: 0, other: 0, byName: {} as Record<string, number> };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // ended meanwhile
    }
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = ((Number(fields[11]) + Number(fields[12])) * 1000) / clockTicks();
    const name = tid === String(pid) ? 'main' : comm.replace(/[\d.]+$/, '#');
    out.byName[name] = (out.byName[name] ?? 0) + ms;
    if (tid === String(pid)) out.main += ms;
    else if (comm.startsWith('ZMQbg')) out.zmq += ms;
    else out.other += ms;
  }
  return out;
}

/** Resident set size (MB) of another process, from /proc/<pid>/status. */
export function procRssMb(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

let ticks: number | undefined;
function clockTicks(): number {
  if (ticks === undefined) {
    const out = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
    ticks = Number(out.stdout.trim()) || 100;
  }
  return ticks;
}

/** The children of a process (Linux), from /proc. */
export function childPids(pid: number): number[] {
  try {
    const out: number[] = [];
    for (const task of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/))
      if (task) out.push(Number(task));
    return out;
  } catch {
    return [];
  }
}

export interface Msg {
  type: string;
  [k: string]: unknown;
}

/** A child running a TypeScript file under tsx, with IPC. Its stderr goes to ours (prefixed by the caller when needed). */
export class Child {
  readonly proc: ChildProcess;
  private readonly inbox: Msg[] = [];
  private waiters: Array<() => void> = [];
  private exited = false;
  readonly exit: Promise<number | null>;

  private readonly name: string;

  constructor(
    file: string,
    args: string[] = [],
    options: { env?: NodeJS.ProcessEnv; execArgv?: string[] } = {},
  ) {
    this.name = [file, ...args].join(' ').slice(0, 100);
    this.proc = fork(fileURLToPath(new URL(`../procs/${file}`, import.meta.url)), args, {
      // BENCH_CHILD_ARGS (say `--cpu-prof --cpu-prof-dir=/tmp/p`): profile the measured processes
      // themselves; node refuses --cpu-prof in NODE_OPTIONS.
      execArgv: [
        '--import',
        'tsx',
        ...(options.execArgv ?? []),
        ...(process.env.BENCH_CHILD_ARGS?.split(' ').filter(Boolean) ?? []),
      ],
      // The bench's tsconfig (JSX, paths) for every child, as the test runner does for tests.
      // A given env is the whole environment, not an overlay on ours: terminalEnv() removes CI
      // from it, and merging ours back in restored CI, so Ink in the render child ran in its CI
      // mode (draws nothing until exit) and the figure reported 0 frames wherever CI is set.
      env: {
        ...(options.env ?? process.env),
        TSX_TSCONFIG_PATH: fileURLToPath(new URL('../tsconfig.json', import.meta.url)),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      cwd: ROOT,
    });
    this.proc.on('message', (m: Msg) => {
      this.inbox.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    this.exit = new Promise((resolve) =>
      this.proc.once('exit', (code) => {
        this.exited = true;
        for (const w of this.waiters.splice(0)) w();
        resolve(code);
      }),
    );
  }

  get pid(): number {
    return this.proc.pid!;
  }

  send(m: Msg): void {
    if (!this.exited) this.proc.send(m);
  }

  /** The next message of `type` (earlier ones of other types are kept). A child error message rejects. */
  async next(type: string, timeoutMs = 120_000): Promise<Msg> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const [m] = this.inbox.splice(i, 1);
        if (m!.type === 'error') throw new Error(`${this.label()}: ${String(m!.message)}`);
        return m!;
      }
      if (this.exited)
        throw new Error(
          `${this.label()} exited (code ${this.proc.exitCode}) before sending "${type}"`,
        );
      const left = end - Date.now();
      if (left <= 0) throw new Error(`${this.label()}: no "${type}" within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
  }

  /** Asks it to stop (IPC), then SIGTERM, then SIGKILL. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.exited) return;
    this.send({ type: 'stop' });
    const timer = setTimeout(() => this.proc.kill('SIGTERM'), graceMs);
    const hard = setTimeout(() => this.proc.kill('SIGKILL'), graceMs * 2);
    await this.exit;
    clearTimeout(timer);
    clearTimeout(hard);
  }

  private label(): string {
    return `bench child ${this.name}`;
  }
}

/** In a child: send a message to the parent. */
export function toParent(m: Msg): void {
  process.send?.(m);
}

/** In a child: run `main`, report an error to the parent instead of dying silently. */
export function childMain(main: () => Promise<void>): void {
  // Never outlive the runner: a parent that dies closes the IPC channel.
  process.once('disconnect', () => setTimeout(() => process.exit(0), 500).unref());
  main().catch((error: unknown) => {
    toParent({ type: 'error', message: (error as Error).stack ?? String(error) });
    setTimeout(() => process.exit(1), 100);
  });
}

/** In a child: resolves when the parent says stop (or the IPC channel closes). */
export function stopRequested(): Promise<void> {
  return new Promise((resolve) => {
    process.on('message', (m: Msg) => m.type === 'stop' && resolve());
    process.once('disconnect', () => resolve());
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
