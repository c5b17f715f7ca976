// The environment the real binary gives the console, for figures that run the console's code
// in-process (render): bin/opsdeck.js decides React's build (NODE_ENV), so match it.
import { readFileSync } from 'node:fs';
import { ROOT } from './harness.js';

export function consoleEnv(): Record<string, string> {
  const launcher = readFileSync(`${ROOT}bin/opsdeck.js`, 'utf8');
  return /NODE_ENV\s*\?\?=\s*['"]production['"]/.test(launcher) ? { NODE_ENV: 'production' } : {};
}
