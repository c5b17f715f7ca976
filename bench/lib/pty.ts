// The real binary in a pseudo-terminal: util-linux `script` gives the command a PTY (200x60 via
// stty), so the console runs as on an operator's terminal. Output arrives on our pipe.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import type { BenchFleet } from './fleet.js';
import { ROOT, childPids } from './harness.js';

/**
 * The binary the PTY figures run; OPSDECK_BENCH_BIN runs another build's (a worktree of the
 * commit before a change, built) to set before and after side by side on the same machine.
 */
export const BIN = process.env.OPSDECK_BENCH_BIN || `${ROOT}bin/opsdeck.js`;

/** The environment a console runs in: a terminal, not CI (Ink renders nothing when it thinks it is in CI). */
export function terminalEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: 'xterm-256color', ...extra };
  for (const key of Object.keys(env))
    if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key.startsWith('CI_')) delete env[key];
  return env;
}

/**
 * Node flags for the consoles the figures run in a PTY: BENCH_CHILD_ARGS, as for the measured
 * child processes (say `--cpu-prof --cpu-prof-dir=/tmp/p`).
 */
export const consoleFlags = (): string[] =>
  process.env.BENCH_CHILD_ARGS?.split(' ').filter(Boolean) ?? [];

/** Why the PTY figures cannot run here, if they cannot (util-linux `script` is missing). */
export function noPty(): string | undefined {
  return spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0
    ? undefined
    : 'util-linux `script` not found (apt-get install -y bsdutils)';
}

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

export interface Pty {
  proc: ChildProcess;
  /** Milliseconds from spawn until `pattern` first appeared in the output. */
  until(pattern: RegExp, timeoutMs?: number): Promise<number>;
  /** The pid of the command itself (script's child), once it runs. */
  commandPid(): Promise<number>;
  output(): string;
  /** Bytes the command has written to its terminal so far. */
  bytes(): number;
  /** Calls `listener` with every chunk of output as it arrives (and when, performance.now()). */
  onChunk(listener: (chunk: Buffer, at: number) => void): void;
  write(data: string): void;
  exited: Promise<number | null>;
  kill(): Promise<void>;
  spawnedAt: number;
}

export function inPty(argv: string[], env: NodeJS.ProcessEnv, size = { cols: 200, rows: 60 }): Pty {
  const command = `stty cols ${size.cols} rows ${size.rows}; exec ${argv.map(quote).join(' ')}`;
  const spawnedAt = performance.now();
  const proc = spawn('script', ['-qfec', command, '/dev/null'], {
    env,
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let bytes = 0;
  const watchers: Array<() => void> = [];
  const listeners: Array<(chunk: Buffer, at: number) => void> = [];
  const onData = (chunk: Buffer) => {
    const at = performance.now();
    bytes += chunk.length;
    for (const l of listeners) l(chunk, at);
    out += chunk.toString('utf8');
    if (out.length > 4_000_000) out = out.slice(-1_000_000);
    for (const w of [...watchers]) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => resolve(code)),
  );
  return {
    proc,
    spawnedAt,
    output: () => out,
    bytes: () => bytes,
    onChunk: (listener) => void listeners.push(listener),
    write: (data) => void proc.stdin!.write(data),
    exited,
    until(pattern, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (pattern.test(out)) {
            watchers.splice(watchers.indexOf(check), 1);
            clearTimeout(timer);
            resolve(performance.now() - spawnedAt);
          }
        };
        const timer = setTimeout(() => {
          watchers.splice(watchers.indexOf(check), 1);
          reject(
            new Error(
              `no ${pattern} within ${timeoutMs} ms; output so far: ${JSON.stringify(out.slice(-400))}`,
            ),
          );
        }, timeoutMs);
        watchers.push(check);
        check();
      });
    },
    async commandPid() {
      for (let i = 0; i < 200; i++) {
        const [pid] = childPids(proc.pid!);
        if (pid) return pid;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('the command did not start under script');
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const pids = childPids(proc.pid!);
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          /* gone */
        }
      }
      const t = setTimeout(() => {
        for (const pid of [...pids, proc.pid!]) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
      }, 5000);
      await exited;
      clearTimeout(t);
    },
  };
}

/**
 * The real console on a bench fleet (NATS off, 2 s probes) in a PTY (200x60 unless told), its
 * preferences and audit log in `tmp`.
 */
export function consoleInPty(fleet: BenchFleet, tmp: string, size = { cols: 200, rows: 60 }): Pty {
  const env = terminalEnv({
    ...fleet.env,
    OPSDECK_CONFIG_DIR: tmp,
    OPSDECK_AUDIT: `${tmp}/audit.jsonl`,
  });
  delete env.NATS_URL;
  delete env.NATS_SERVERS;
  const { mainpc, pc2 } = fleet.files;
  const args = ['console', '--mainpc', mainpc, '--pc2', pc2, '--interval', '2s'];
  return inPty([process.execPath, ...consoleFlags(), BIN, ...args], env, size);
}
