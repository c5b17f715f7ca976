// The options every fleet-reading command shares, and how they turn into a loaded fleet.
import type { Command } from 'commander';
import { isAbsolute, resolve } from 'node:path';
import {
  discoverFleet,
  loadFleet,
  UPSTREAM_CONFIGS,
  type FleetLoad,
} from '../adapters/fleet-files.js';
import type { ParseCache } from '../adapters/parse-cache.js';
import { formatDiagnostic } from '../core/fleet/model.js';
import { EXIT, Exit, type Io } from './io.js';

export interface FleetArgs {
  mainpc?: string;
  pc2?: string;
  root?: string;
}

export const addFleetOptions = (cmd: Command): Command =>
  cmd
    .option('--mainpc <file>', 'MainPC config (default: <root>/' + UPSTREAM_CONFIGS.mainpc + ')')
    .option('--pc2 <file>', 'PC2 config (default: <root>/' + UPSTREAM_CONFIGS.pc2 + ')')
    .option('--root <dir>', 'upstream checkout to find both configs in (default: current folder)');

/** Loads the fleet named by the options; prints diagnostics; bad input ends the command with 2. */
export function loadFleetArgs(
  args: FleetArgs,
  io: Io,
  { quiet = false, cache }: { quiet?: boolean; cache?: ParseCache | undefined } = {},
): FleetLoad {
  const abs = (p: string) => (isAbsolute(p) ? p : resolve(io.cwd, p));
  const files: Record<string, string> = {};
  if (args.mainpc) files.mainpc = abs(args.mainpc);
  if (args.pc2) files.pc2 = abs(args.pc2);
  if (Object.keys(files).length === 0)
    Object.assign(files, discoverFleet(abs(args.root ?? '.')).files);
  if (Object.keys(files).length === 0) {
    io.err(
      `opsdeck: no fleet config found in ${abs(args.root ?? '.')}: expected ${Object.values(UPSTREAM_CONFIGS).join(' or ')}; pass --mainpc FILE and/or --pc2 FILE`,
    );
    throw new Exit(EXIT.badInput);
  }
  const fleet = loadFleet(files, io.env, cache);
  for (const d of fleet.diagnostics) {
    if (d.severity === 'error' || (!quiet && d.severity === 'warning')) io.err(formatDiagnostic(d));
  }
  if (!fleet.ok) {
    io.err(`opsdeck: the fleet config has errors (above); nothing was done`);
    throw new Exit(EXIT.badInput);
  }
  return fleet;
}
