// What a command needs from the outside world, so tests can run commands in-process.
import type { Env } from '../core/fleet/port-expr.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Env;
  cwd: string;
}

export const processIo = (): Io => ({
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
  env: process.env,
  cwd: process.cwd(),
});

/** Exit codes every subcommand uses. */
export const EXIT = { ok: 0, findings: 1, badInput: 2 } as const;

/** Thrown inside an action to end the command with an exit code (commander swallows returns). */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
