#!/usr/bin/env node
// Tiny launcher: everything lives in the compiled CLI (npm run build writes dist/).

// Ink decides once, at import, whether it runs "in CI" (then it draws only the last frame).
// On a real terminal the operator is interactive whatever CI says, so the console must draw.
if (process.stdout.isTTY && process.stdin.isTTY) {
  for (const key of Object.keys(process.env)) if (key === 'CI' || key === 'CONTINUOUS_INTEGRATION' || key.startsWith('CI_')) delete process.env[key];
}

// React's production build unless told otherwise (read once, at import): the development build
// costs about a third more CPU per frame and 0.2 s more start-up (bench/: idle, render, startup).
process.env.NODE_ENV ??= 'production';

// `opsdeck ports matrix | head` closes our stdout early: that is not an error worth a trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

const { main } = await import('../dist/cli.js');
process.exitCode = await main(process.argv.slice(2));
