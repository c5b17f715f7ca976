// What a command needs from the outside world, so tests can run commands in-process.
import { createInterface } from 'node:readline';
import type { Env } from '../core/fleet/port-expr.js';
import { sanitiseLines } from '../core/errors/sanitise.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: Env;
  cwd: string;
  /** Asks the operator one line (prompt on stderr); '' when there is no input to read. */
  ask?(question: string): Promise<string>;
}

/** One line end, and nothing that drives the terminal: config names, file names, wire text. */
const forTerminal = (text: string): string => {
  const safe = sanitiseLines(text);
  return safe.endsWith('\n') ? safe : `${safe}\n`;
};

export const processIo = (): Io => ({
  out: (text) => process.stdout.write(forTerminal(text)),
  err: (text) => process.stderr.write(forTerminal(text)),
  env: process.env,
  cwd: process.cwd(),
  ask: (question) =>
    new Promise((resolve) => {
      const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: false });
      let answer = '';
      process.stderr.write(question);
      rl.once('line', (line) => {
        answer = line;
        rl.close();
      });
      rl.once('close', () => resolve(answer));
    }),
});

/** Exit codes every subcommand uses. */
export const EXIT = { ok: 0, findings: 1, badInput: 2 } as const;

/** Thrown inside an action to end the command with an exit code (commander swallows returns). */
export class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}
