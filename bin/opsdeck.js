#!/usr/bin/env node
// Tiny launcher: everything lives in the compiled CLI (npm run build writes dist/).
import { main } from '../dist/cli.js';

// `opsdeck ports matrix | head` closes our stdout early: that is not an error worth a trace.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
