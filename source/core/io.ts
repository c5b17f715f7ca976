// What a command (or an action run from the CLI) needs from the outside world, as a type, and
// the exit codes: in core so that actions/ and commands/ share them without importing each
// other. The process-backed Io is commands/io.ts's processIo.
import type { Env } from './fleet/port-expr.js';

// out/err are function-valued properties: commands pass them around unbound.
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  env: Env;
  cwd: string;
  /** Asks the operator one line (prompt on stderr); '' when there is no input to read. */
  ask?(question: string): Promise<string>;
}

/** Exit codes every subcommand uses. */
export const EXIT = { ok: 0, findings: 1, badInput: 2 } as const;

/** Thrown inside an action to end the command with an exit code (commander swallows returns). */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
