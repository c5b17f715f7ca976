// Leak tests run their scenario in a child process: "nothing left running" is then simply
// "the child ended on its own", whatever the handle that would have held it.
import { spawn } from 'node:child_process';

export interface ChildRun {
  code: number | 'still running';
  out: string;
  err: string;
}

/** Runs a TypeScript file under tsx; resolves with its exit code, or 'still running' after `ms` (then killed). */
export function runTsChild(file: string, args: string[], ms: number): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TSX_TSCONFIG_PATH: 'tsconfig.test.json' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'still running', out, err });
    }, ms);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, out, err });
    });
  });
}
