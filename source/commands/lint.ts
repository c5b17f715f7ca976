// `opsdeck lint [PATH]`: the action plan's blind spots and compose clean-up over a checkout of
// the fleet's repository. Exit 0 clean, 1 when findings at or above --fail-on exist, 2 on bad
// input (a missing PATH, an unknown rule, a fleet config that does not load).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { discoverFleet } from '../adapters/fleet-files.js';
import { runLint, type LintRun } from '../adapters/lint-files.js';
import type { Machine } from '../core/fleet/model.js';
import { atOrAbove, formatFinding, isSeverity, RULE_IDS, RULES, SEVERITIES, summarize, type RuleId, type Severity } from '../core/lint/finding.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';

interface LintArgs extends FleetArgs {
  json?: boolean;
  failOn?: string;
  rule?: string[];
}

export function registerLint(program: Command, io: Io): Command {
  const lint = addFleetOptions(
    program
      .command('lint')
      .description('check a checkout of the fleet repository for the action plan blind spots (ZMQ timeouts, compose health checks and variants, SQLite writers, asyncio in threads, config drift)')
      .argument('[path]', 'folder (or file) to scan for *.py and docker-compose*.yml', '.')
      .option('--json', 'print findings and a summary as JSON')
      .option('--fail-on <severity>', `exit 1 when findings at or above this exist: ${SEVERITIES.join('|')}`, 'warning')
      .option('--rule <ids...>', `only these checks (comma or space separated): ${RULE_IDS.join(', ')}`),
  ).action(async (path: string, opts: LintArgs) => {
    const { root, rules, failOn, machines } = prepare(path, opts, io);
    const run = await runLint({ root, cwd: io.cwd, rules, machines, env: io.env });
    report(run, opts.json === true, io, machines.length === 0);
    if (run.findings.some((f) => atOrAbove(f, failOn))) throw new Exit(EXIT.findings);
  });
  return lint;
}

export interface Prepared {
  root: string;
  rules: Set<RuleId>;
  failOn: Severity;
  machines: Machine[];
}

/** Validates PATH, --rule, --fail-on and loads the fleet config (explicit, or found under PATH). */
export function prepare(path: string, opts: LintArgs, io: Io, fixedRules?: RuleId[]): Prepared {
  const root = isAbsolute(path) ? path : resolve(io.cwd, path);
  if (!existsSync(root)) {
    io.err(`opsdeck lint: ${path}: no such file or folder`);
    throw new Exit(EXIT.badInput);
  }
  const failOn = opts.failOn ?? 'warning';
  if (!isSeverity(failOn)) {
    io.err(`opsdeck lint: --fail-on must be one of ${SEVERITIES.join(', ')}, got "${failOn}"`);
    throw new Exit(EXIT.badInput);
  }
  const asked = (opts.rule ?? []).flatMap((r) => r.split(',')).map((r) => r.trim()).filter(Boolean);
  const unknown = asked.filter((r) => !(r in RULES));
  if (unknown.length > 0) {
    io.err(`opsdeck lint: unknown rule ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${RULE_IDS.join(', ')}`);
    throw new Exit(EXIT.badInput);
  }
  const rules = new Set<RuleId>(fixedRules ?? (asked.length > 0 ? (asked as RuleId[]) : RULE_IDS));
  if (!fixedRules && asked.length > 0) rules.add('syntax'); // a file that does not parse is never silently skipped
  const explicit = opts.mainpc !== undefined || opts.pc2 !== undefined || opts.root !== undefined;
  let machines: Machine[] = [];
  if (explicit) machines = loadFleetArgs(opts, io, { quiet: opts.json === true }).machines;
  else if (Object.keys(discoverFleet(root).files).length > 0) machines = loadFleetArgs({ root }, io, { quiet: opts.json === true }).machines;
  return { root, rules, failOn, machines };
}

function report(run: LintRun, json: boolean, io: Io, noFleet: boolean): void {
  const summary = summarize(run.findings, run.files);
  const notes = noFleet
    ? ['no fleet config found or given (--mainpc/--pc2/--root): health-check port roles, config drift and config-side SQLite checks were skipped']
    : [];
  if (json) {
    io.out(JSON.stringify({ findings: run.findings, summary, notes }, null, 2));
    return;
  }
  for (const f of run.findings) io.out(formatFinding(f));
  for (const n of notes) io.err(`note: ${n}`);
  const { error, warning, info } = summary.bySeverity;
  io.out(`${summary.total} findings (${error} errors, ${warning} warnings, ${info} info) in ${run.files.python} Python files and ${run.files.compose} compose files`);
}
