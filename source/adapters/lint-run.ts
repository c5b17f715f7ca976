// `opsdeck lint --json` on the fleet's checkout as a child process (nice'd, so the console stays
// light): the LintRunner port the lint store is given.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LintRunner } from '../core/seams/files.js';

const BIN = fileURLToPath(new URL('../../bin/opsdeck.js', import.meta.url));

export const lintChild: LintRunner = (root, files, on) => {
  const child = spawn(
    'nice',
    ['-n', '10', process.execPath, BIN, 'lint', root, '--json', '--fail-on', 'error', ...files],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.on('error', (error) => on.error(error.message));
  child.on('exit', (code) => on.exit(code, out));
  return () => child.kill('SIGTERM');
};
