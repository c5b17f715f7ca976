// Shared by the deployment tests: a child process whose output is read line by line and that is
// always stopped after the file's tests, whatever happens.
import { after } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';

export interface Running {
  child: ChildProcess;
  /** stdout and stderr so far, in arrival order. */
  output(): string;
  /** Resolves with the first output line matching `pattern`; rejects if the process ends first. */
  line(pattern: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code. Idempotent. */
  stop(): Promise<number | null>;
}

const running: Running[] = [];
after(async () => {
  for (const r of running.splice(0).reverse()) await r.stop();
});

export function start(
  command: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Running {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let text = '';
  const waiters = new Set<() => void>();
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code);
      for (const w of waiters) w();
    }),
  );
  const take = (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiters) w();
  };
  child.stdout.on('data', take);
  child.stderr.on('data', take);
  let stopped: Promise<number | null> | undefined;
  const r: Running = {
    child,
    output: () => text,
    line: (pattern, ms = 60_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          for (const l of text.split('\n')) {
            const m = l.match(pattern);
            if (m) return done(() => resolve(m));
          }
          if (child.exitCode !== null || child.signalCode !== null)
            done(() =>
              reject(
                new Error(`${command} ended before printing ${pattern}:\n${text.slice(-2000)}`),
              ),
            );
        };
        const timer = setTimeout(
          () =>
            done(() => reject(new Error(`no ${pattern} within ${ms} ms:\n${text.slice(-2000)}`))),
          ms,
        );
        const done = (finish: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          finish();
        };
        waiters.add(check);
        check();
      }),
    stop: () =>
      (stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
          await exited;
          clearTimeout(timer);
        }
        return exited;
      })()),
  };
  running.push(r);
  return r;
}
