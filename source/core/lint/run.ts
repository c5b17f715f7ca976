// The pure half of `opsdeck lint`: given parsed Python modules and compose files (the adapter
// reads and parses them), run the selected rules and return findings.
import type { Agent, Machine } from '../fleet/model.js';
import { checkAsyncioThreads } from './asyncio-threads.js';
import { checkConfigDrift } from './config-drift.js';
import type { Env } from '../fleet/port-expr.js';
import { checkComposeHealth } from './compose-health.js';
import { consolidate, consolidationFindings, type MachinePlan } from './compose-plan.js';
import { placeCompose, type ComposeInput, type PlacedCompose } from './compose-place.js';
import type { Finding, RuleId } from './finding.js';
import { portMaps } from './fleet-ports.js';
import { indexModule, type PyIndex } from './py-index.js';
import type { PyModule } from './py-syntax.js';
import { checkSqliteCompose, checkSqliteConfig } from './sqlite.js';
import { checkZmqRecv } from './zmq-recv.js';

export type { ComposeInput, PlacedCompose } from './compose-place.js';

export interface PythonResult {
  findings: Finding[];
  /** Whether the module defines or imports BaseAgent (decides what its ports speak). */
  baseAgent: boolean;
}

export interface PythonContext {
  rules: ReadonlySet<RuleId>;
  /** Fleet agents whose script_path is this file (none when no fleet config was given). */
  agents: readonly Agent[];
}

export function lintPython(mod: PyModule, ctx: PythonContext): PythonResult {
  const findings: Finding[] = [];
  if (mod.syntaxError && ctx.rules.has('syntax')) {
    findings.push({
      rule: 'syntax',
      severity: 'error',
      file: mod.file,
      line: mod.syntaxError.line,
      col: mod.syntaxError.col,
      message: `${mod.syntaxError.message}: Python refuses to run this file (the other checks read what parsed around it)`,
      hint: 'fix the syntax error; run python -m py_compile on the file to confirm',
    });
  }
  const index = indexModule(mod);
  if (ctx.rules.has('zmq-recv-timeout')) findings.push(...checkZmqRecv(index));
  if (ctx.rules.has('asyncio-threads')) findings.push(...checkAsyncioThreads(index));
  if (ctx.rules.has('config-drift')) findings.push(...checkConfigDrift(index, ctx.agents));
  return { findings, baseAgent: mentionsBaseAgent(index) };
}

function mentionsBaseAgent(index: PyIndex): boolean {
  const { mod } = index;
  if (!mod.text.includes('BaseAgent')) return false;
  // Imports and superclasses are where the name appears; a string or comment mention is not use.
  let hit = false;
  const stack = [mod.root];
  while (stack.length > 0 && !hit) {
    const n = stack.pop()!;
    if (n.type === 'identifier' && mod.text.slice(n.from, n.to) === 'BaseAgent') hit = true;
    if (n.type === 'string' || n.type === 'comment') continue;
    stack.push(...n.children);
  }
  return hit;
}

export interface ComposeContext {
  rules: ReadonlySet<RuleId>;
  machines: readonly Machine[];
  env: Env;
  /** script path -> defines/imports BaseAgent, for the scripts that were scanned. */
  baseAgent: ReadonlyMap<string, boolean>;
}

export function lintComposeSet(
  inputs: readonly ComposeInput[],
  ctx: ComposeContext,
): { findings: Finding[]; placed: PlacedCompose[]; plans: MachinePlan[] } {
  const findings: Finding[] = [];
  const ports = portMaps(ctx.machines, (script) => ctx.baseAgent.get(script));
  const placed = inputs.map((i) => ({
    ...i,
    place: placeCompose(i.relPath, i.compose, ctx.machines),
  }));
  for (const { compose, place } of placed) {
    if (ctx.rules.has('syntax')) {
      // After the first YAML error the parser's later complaints are mostly echoes of it.
      const errors = compose.diagnostics.filter((d) => d.severity === 'error');
      const shown = [
        ...compose.diagnostics.filter((d) => d.severity !== 'error'),
        ...errors.slice(0, 1),
      ];
      for (const d of shown) {
        const more =
          d.severity === 'error' && errors.length > 1
            ? ` (and ${errors.length - 1} more YAML errors after it)`
            : '';
        findings.push({
          rule: 'syntax',
          severity: d.severity,
          file: d.loc.file,
          line: d.loc.line,
          col: d.loc.col,
          message: `${d.message}${more}${d.severity === 'error' ? ': no other check could read this file' : ''}`,
          hint:
            d.severity === 'error'
              ? 'fix the YAML; docker compose config will show the same error'
              : 'remove the duplicate key (compose keeps the last one)',
        });
      }
    }
    if (ctx.rules.has('compose-health'))
      findings.push(...checkComposeHealth(compose, { place, ports, env: ctx.env }));
  }
  if (ctx.rules.has('sqlite-writers')) findings.push(...checkSqliteCompose(placed, ctx.machines));
  const plans = consolidate(placed, ctx.machines);
  if (ctx.rules.has('compose-consolidation')) findings.push(...consolidationFindings(plans));
  return { findings, placed, plans };
}

/** Checks that read only the fleet config. */
export function lintFleet(machines: readonly Machine[], rules: ReadonlySet<RuleId>): Finding[] {
  return rules.has('sqlite-writers') ? checkSqliteConfig(machines) : [];
}
