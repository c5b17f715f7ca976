#!/usr/bin/env node
// Tiny launcher: everything lives in the compiled CLI (npm run build writes dist/).
import { statSync } from 'node:fs';
import { URL } from 'node:url';

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

// Start-up (issue 7): the esbuild bundle of dist/ (scripts/bundle.mjs) loads in a fraction of
// the time of ~700 separate modules. It is built for React's production mode, so development
// mode (NODE_ENV, or Ink's DEV=true devtools) runs dist/cli.js; so does a dist/ that tsc wrote
// after the bundle (a stale bundle must never run instead of the code just compiled). The packed
// package (npm pack) ships the bundle alone: without dist/cli.js the bundle runs whatever the mode.
const modified = (path) =>
  statSync(new URL(path, import.meta.url), { throwIfNoEntry: false })?.mtimeMs;
const bundled = modified('../dist/bundle/cli.js');
const compiled = modified('../dist/cli.js');
const useBundle =
  bundled !== undefined &&
  (compiled === undefined ||
    (process.env.NODE_ENV === 'production' && process.env.DEV !== 'true' && bundled >= compiled));

const { main } = await import(useBundle ? '../dist/bundle/cli.js' : '../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
