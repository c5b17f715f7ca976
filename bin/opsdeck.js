#!/usr/bin/env node
// Tiny launcher: everything lives in the compiled CLI (npm run build writes dist/).
import { statSync } from 'node:fs';
import { setTimeout } from 'node:timers';
import { fileURLToPath, URL } from 'node:url';

/** When a launch's start-up is over: it keeps V8's code for the next, turns TurboFan on (below). */
const STARTED_AFTER_MS = 2000;

// Ink decides once, at import, whether it runs "in CI" (then it draws only the last frame).
// On a real terminal the operator is interactive whatever CI says, so the console must draw.
if (process.stdout.isTTY && process.stdin.isTTY) {
  for (const key of Object.keys(process.env))
    if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key.startsWith('CI_'))
      delete process.env[key];
}

// React's production build unless told otherwise (read once, at import): the development build
// costs about a third more CPU per frame and 0.2 s more start-up (bench/: idle, render, startup).
process.env.NODE_ENV ??= 'production';

// `opsdeck ports matrix | head` closes our stdout early: that is not an error worth a trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

// Start-up (issues 7, 16): the esbuild bundle of dist/ (scripts/bundle.mjs) is one CommonJS script,
// dist/bundle/cli.cjs, that loads in a fraction of the time of ~700 separate modules; boot.js
// runs it with V8's code compiled for it by an earlier launch (source/adapters/code-cache.ts), and
// keeps the code of this launch once its start-up is over, when it had none to use; TurboFan is
// off until then (optimizeLater: its compiles would land after the first frame). The bundle
// is built for React's production mode, so development mode (NODE_ENV, or Ink's DEV=true
// devtools) runs dist/cli.js; so does a dist/ that tsc wrote after the bundle (a stale bundle
// must never run instead of the code just compiled). The packed package (npm pack) ships the
// bundle alone: without dist/cli.js the bundle runs whatever the mode.
const modified = (path) =>
  statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundled = modified('../dist/bundle/cli.cjs');
const compiled = modified('../dist/cli.js');
const useBundle =
  bundled !== undefined &&
  (compiled === undefined ||
    (process.env.NODE_ENV === 'production' && process.env.DEV !== 'true' && bundled >= compiled));

const argv = process.argv.slice(2);
let main;
if (useBundle) {
  const { commandKey, loadBundle, optimizeLater } = await import('../dist/bundle/boot.js');
  const optimize = optimizeLater(process.execArgv, process.env.NODE_OPTIONS);
  const bundle = loadBundle(fileURLToPath(new URL('../dist/bundle/cli.cjs', import.meta.url)), {
    env: process.env,
    command: commandKey(argv),
  });
  // Start-up is over by then (the console's first frame is drawn well before): its code is kept
  // first (with TurboFan still off, as the next launch will read it), then TurboFan is turned
  // back on. A command that ends sooner keeps its code as it exits.
  setTimeout(() => {
    bundle.save();
    optimize?.();
  }, STARTED_AFTER_MS).unref();
  process.once('exit', bundle.save);
  ({ main } = bundle.exports);
} else ({ main } = await import('../dist/cli.js'));
process.exitCode = await main(argv);
