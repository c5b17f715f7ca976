// What a command needs from the outside world, so tests can run commands in-process.
import { createInterface } from 'node:readline';
import { sanitiseLines } from '../core/errors/sanitise.js';
import type { Io } from '../core/io.js';

export { EXIT, Exit, type Io } from '../core/io.js';

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
