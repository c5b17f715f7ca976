// `opsdeck lint [PATH]`: the action plan's blind spots and compose clean-up over a checkout of
// the fleet's repository. Exit 0 clean, 1 when findings at or above --fail-on exist, 2 on bad
// input (a missing PATH, an unknown rule, a fleet config that does not load).
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { discoverFleet } from '../adapters/fleet-files.js';
import { runLint, type LintRun } from '../adapters/lint-files.js';
import type { Machine } from '../core/fleet/model.js';
import { fieldValue, mergedMoves, type MachinePlan } from '../core/lint/compose-plan.js';
import {
  atOrAbove,
  formatFinding,
  isSeverity,
  RULE_IDS,
  RULES,
  SEVERITIES,
  summarize,
  type RuleId,
  type Severity,
} from '../core/lint/finding.js';
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
      .description(
        'check a checkout of the fleet repository for the action plan blind spots (ZMQ timeouts, compose health checks and variants, SQLite writers, asyncio in threads, config drift)',
      )
      .argument('[path]', 'folder (or file) to scan for *.py and docker-compose*.yml', '.')
      .option('--json', 'print findings and a summary as JSON')
      .option(
        '--fail-on <severity>',
        `exit 1 when findings at or above this exist: ${SEVERITIES.join('|')}`,
        'warning',
      )
      // not variadic: `--rule a b` would swallow PATH; repeat the option or separate with commas
      .option(
        '--rule <ids>',
        `only these checks (comma separated, repeatable): ${RULE_IDS.join(', ')}`,
        (v: string, prev: string[] = []) => [...prev, v],
      ),
  ).action(async (path: string, opts: LintArgs) => {
    const { root, rules, failOn, machines } = prepare(path, opts, io);
    const run = await runLint({ root, cwd: io.cwd, rules, machines, env: io.env });
    report(run, opts.json === true, io, machines.length === 0);
    if (run.findings.some((f) => atOrAbove(f, failOn))) throw new Exit(EXIT.findings);
  });

  addFleetOptions(
    lint
      .command('compose')
      .description(
        "compare each machine's compose variants service by service and propose one source of truth (plan P3.1)",
      )
      .argument('[path]', 'folder to scan for docker-compose*.yml', '.')
      .option('--plan', 'print the moves (keep / deprecate / delete / rename); nothing is changed')
      .option('--json', 'print the comparison (or the plan) as JSON'),
  ).action(async (path: string, _opts: unknown, cmd: Command) => {
    // --mainpc/--pc2/--json may be written before `compose`, where `lint` itself reads them
    const opts = cmd.optsWithGlobals<FleetArgs & { plan?: boolean; json?: boolean }>();
    const { root, machines } = prepare(path, opts, io, ['compose-consolidation', 'syntax']);
    const run = await runLint({
      root,
      cwd: io.cwd,
      rules: new Set(['compose-consolidation', 'syntax']),
      machines,
      env: io.env,
      composeOnly: true,
    });
    if (run.plans.length === 0) {
      io.err(
        `opsdeck lint compose: no compose file under ${path} could be tied to a machine${machines.length === 0 ? ' (pass --mainpc/--pc2 so services can be matched to agents)' : ''}`,
      );
    }
    if (opts.json) {
      io.out(
        JSON.stringify(
          opts.plan
            ? { moves: mergedMoves(run.plans), plans: run.plans.map(planJson) }
            : { plans: run.plans.map(planJson) },
          null,
          2,
        ),
      );
      return;
    }
    if (opts.plan) printPlan(run.plans, io);
    else printComparison(run.plans, io);
  });
  return lint;
}

function planJson(plan: MachinePlan) {
  return {
    ...plan,
    rows: plan.rows.map((r) => ({
      service: r.key,
      files: Object.fromEntries([...r.in].map(([file, s]) => [file, s.name])),
      differs: Object.fromEntries(
        r.differs.map((f) => [
          f,
          Object.fromEntries([...r.in].map(([file, s]) => [file, fieldValue(s, f)])),
        ]),
      ),
    })),
  };
}

const clip = (s: string, n = 110) => (s.length > n ? `${s.slice(0, n - 1)}…` : s || '(empty)');

function printComparison(plans: readonly MachinePlan[], io: Io): void {
  for (const plan of plans) {
    io.out(
      `${plan.machine}: ${plan.variants.length} variants, ${plan.units.length} per-hub/group files, ${plan.overrides.length} overrides${plan.broken.length > 0 ? `, ${plan.broken.length} that do not parse (${plan.broken.join(', ')})` : ''}`,
    );
    for (const f of plan.variants) io.out(`  variant  ${f}`);
    for (const f of plan.units) io.out(`  unit     ${f}`);
    io.out(`  superset: ${plan.superset ?? 'none (no variant has every service the others have)'}`);
    for (const [file, inside] of Object.entries(plan.contains))
      io.out(`  ${file} has every service of ${inside.join(', ')}`);
    if (plan.truth) io.out(`  proposed source of truth: ${plan.truth.file}: ${plan.truth.why}`);
    for (const row of plan.rows) {
      const where = [...row.in].map(([file, s]) => `${file} (${s.name})`).join(', ');
      io.out(
        `  ${row.key}: in ${row.in.size} file${row.in.size === 1 ? '' : 's'}${row.differs.length > 0 ? `, differs in ${row.differs.join(', ')}` : row.in.size > 1 ? ', the same everywhere' : ''}: ${where}`,
      );
      for (const field of row.differs) {
        for (const [file, s] of row.in)
          io.out(`      ${field.padEnd(11)} ${file}: ${clip(fieldValue(s, field))}`);
      }
    }
    io.out('');
  }
}

function printPlan(plans: readonly MachinePlan[], io: Io): void {
  for (const plan of plans) {
    io.out(
      `${plan.machine}: source of truth ${plan.truth ? `${plan.truth.file} (${plan.truth.why})` : 'none (no machine-wide variant)'}`,
    );
    for (const m of plan.moves)
      io.out(`  ${m.action.padEnd(9)} ${m.file}${m.to ? ` -> ${m.to}` : ''}\n            ${m.why}`);
  }
  const shared = mergedMoves(plans).filter(
    (m) => plans.filter((p) => p.moves.some((x) => x.file === m.file)).length > 1,
  );
  for (const m of shared)
    io.out(`note: ${m.file} serves several machines; its safest move applies: ${m.action}`);
  io.out(
    'nothing was changed: these are the moves the plan describes, to apply by hand (git mv / git rm)',
  );
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
  const asked = (opts.rule ?? [])
    .flatMap((r) => r.split(','))
    .map((r) => r.trim())
    .filter(Boolean);
  const unknown = asked.filter((r) => !(r in RULES));
  if (unknown.length > 0) {
    io.err(
      `opsdeck lint: unknown rule ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${RULE_IDS.join(', ')}`,
    );
    throw new Exit(EXIT.badInput);
  }
  const rules = new Set<RuleId>(fixedRules ?? (asked.length > 0 ? (asked as RuleId[]) : RULE_IDS));
  if (!fixedRules && asked.length > 0) rules.add('syntax'); // a file that does not parse is never silently skipped
  const explicit = opts.mainpc !== undefined || opts.pc2 !== undefined || opts.root !== undefined;
  let machines: Machine[] = [];
  if (explicit) machines = loadFleetArgs(opts, io, { quiet: opts.json === true }).machines;
  else if (Object.keys(discoverFleet(root).files).length > 0)
    machines = loadFleetArgs({ root }, io, { quiet: opts.json === true }).machines;
  return { root, rules, failOn, machines };
}

function report(run: LintRun, json: boolean, io: Io, noFleet: boolean): void {
  const summary = summarize(run.findings, run.files);
  const notes = noFleet
    ? [
        'no fleet config found or given (--mainpc/--pc2/--root): health-check port roles, config drift and config-side SQLite checks were skipped',
      ]
    : [];
  if (json) {
    io.out(JSON.stringify({ findings: run.findings, summary, notes }, null, 2));
    return;
  }
  for (const f of run.findings) io.out(formatFinding(f));
  for (const n of notes) io.err(`note: ${n}`);
  const { error, warning, info } = summary.bySeverity;
  io.out(
    `${summary.total} findings (${error} errors, ${warning} warnings, ${info} info) in ${run.files.python} Python files and ${run.files.compose} compose files`,
  );
}
