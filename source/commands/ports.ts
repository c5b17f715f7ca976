// `opsdeck ports check|matrix`: port conflicts across both machines, and the allocation matrix.
import { jsonText, sanitiseLines } from '../core/errors/sanitise.js';
import { Option, type Command } from 'commander';
import { isAbsolute, relative, resolve } from 'node:path';
import { writeReport, WriteError } from '../adapters/text-out.js';
import type { SourceLoc } from '../core/fleet/model.js';
import { portMatrix, renderMatrixMarkdown } from '../core/ports/matrix.js';
import { describeBinding, type Binding } from '../core/ports/registry.js';
import { checkPorts, RULE_ORDER, type PortFinding } from '../core/ports/rules.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import type { Machine } from '../core/fleet/model.js';
import { driftFindings, type DriftFinding } from '../core/ports/drift.js';
import { sanitise } from '../core/errors/sanitise.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg } from './options.js';

type CheckArgs = FleetArgs & {
  json?: boolean;
  strict?: boolean;
  live?: boolean;
  timeout: number;
};
type MatrixArgs = FleetArgs & { format: 'md' | 'json'; out?: string };

export function registerPorts(program: Command, io: Io): Command {
  const ports = program
    .command('ports')
    .description('port conflicts across both machines, and the allocation matrix');

  addFleetOptions(
    ports
      .command('check')
      .description(
        'report port clashes (within a machine, across machines sharing a host, reserved ports, pc2_network ranges); exit 1 on conflicts',
      )
      .option('--json', 'print the findings as JSON')
      .option('--strict', 'exit 1 on warnings (ports outside pc2_network ranges) too')
      .option(
        '--live',
        'also probe every agent once and report drift between config and reality (agents answering on other ports, ports answering as another agent); exit 1 on drift',
      )
      .addOption(
        checkedOption(
          '--timeout <duration>',
          'health probe timeout with --live',
          durationArg({ minMs: 50, maxMs: 60_000 }),
          '1500ms',
        ),
      ),
  ).action(async (opts: CheckArgs) => {
    const fleet = loadFleetArgs(opts, io, { quiet: opts.json === true });
    const { findings } = checkPorts(fleet.machines, { env: io.env });
    const errors = findings.filter((f) => f.severity === 'error');
    const warnings = findings.length - errors.length;
    let drift: DriftFinding[] | undefined;
    if (opts.live) {
      drift = await liveDrift(fleet.machines, opts.timeout);
    }
    if (opts.json) {
      const byRule = Object.fromEntries(
        RULE_ORDER.map((r) => [r, findings.filter((f) => f.rule === r).length]),
      );
      io.out(
        jsonText(
          {
            ok: errors.length === 0,
            machines: fleet.machines.map((m) => ({ id: m.id, host: m.host, file: m.source.file })),
            summary: {
              errors: errors.length,
              warnings,
              derived: errors.filter((f) => f.derived).length,
              byRule,
            },
            findings,
            ...(drift ? { drift } : {}),
          },
          2,
        ),
      );
    } else {
      printFindings(findings, fleet.machines, io);
      const derived = errors.filter((f) => f.derived).length;
      io.out(
        `${errors.length} conflicts (${derived} only through BaseAgent's derived ports), ${warnings} warnings on ${fleet.machines.length} machine${fleet.machines.length === 1 ? '' : 's'}`,
      );
      if (drift) {
        for (const d of drift) io.out(`DRIFT ${d.kind}: ${sanitise(d.message)}`);
        io.out(`${drift.length} agents drift from their config (probed live)`);
      }
    }
    if (errors.length > 0 || (opts.strict && warnings > 0) || (drift?.length ?? 0) > 0)
      throw new Exit(EXIT.findings);
  });

  addFleetOptions(
    ports
      .command('matrix')
      .description(
        'write the port allocation matrix: every bound port per machine, owner, kind, rule, conflicts',
      )
      .addOption(
        new Option('--format <format>', 'output format').choices(['md', 'json']).default('md'),
      )
      .option('--out <file>', 'write to FILE instead of standard output'),
  ).action((opts: MatrixArgs) => {
    const fleet = loadFleetArgs(opts, io, { quiet: opts.out === undefined });
    const matrix = portMatrix(checkPorts(fleet.machines, { env: io.env }));
    const text =
      opts.format === 'json'
        ? `${jsonText(matrix, 2)}\n`
        : // A report someone will `cat`: as inert as what this command prints.
          sanitiseLines(renderMatrixMarkdown(matrix, { path: (f) => shown(f, io.cwd) }));
    if (!opts.out) {
      io.out(text);
      return;
    }
    const out = isAbsolute(opts.out) ? opts.out : resolve(io.cwd, opts.out);
    try {
      writeReport(out, text);
    } catch (error) {
      if (!(error instanceof WriteError)) throw error;
      io.err(`opsdeck: ${error.message}`);
      throw new Exit(EXIT.badInput);
    }
    io.err(`wrote ${out}`);
  });
  return ports;
}

/** Probes every agent once (locating the ones that moved) and reports the drift found. */
async function liveDrift(machines: readonly Machine[], timeoutMs: number): Promise<DriftFinding[]> {
  // Loaded here: ZeroMQ's native module is not worth loading for a config-only check.
  const { HealthStore, targetsFor } = await import('../stores/health-store.js');
  const { netProber } = await import('../adapters/net-prober.js');
  const store = new HealthStore(targetsFor(machines, { timeoutMs }), netProber(), { timeoutMs });
  try {
    await store.probeAll();
    return driftFindings(machines, store.flush().agents);
  } finally {
    store.stop();
  }
}

/** A path as the operator can click it: relative to where they are when that is shorter. */
function shown(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel.length < file.length ? rel : file;
}

function printFindings(
  findings: readonly PortFinding[],
  machines: ReadonlyArray<{ id: string; host: string }>,
  io: Io,
): void {
  const groups = new Map<string, PortFinding[]>();
  for (const f of findings) {
    const key = f.machines.join(' + ');
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  const hostOf = new Map(machines.map((m) => [m.id, m.host]));
  const at = (loc: SourceLoc) => `${shown(loc.file, io.cwd)}:${loc.line}:${loc.col}`;
  const width = Math.max(0, ...findings.flatMap((f) => f.owners.map((o) => owner(o).length)));
  for (const [key, list] of groups) {
    const ids = key.split(' + ');
    const hosts = [...new Set(ids.map((id) => hostOf.get(id) ?? '?'))].join(', ');
    io.out(`${key} (${ids.length > 1 ? 'shared host ' : ''}${hosts}): ${list.length} findings`);
    for (const f of list) {
      io.out(
        `  ${f.severity.padEnd(7)} ${String(f.port).padEnd(5)} ${f.rule}${f.derived ? ' (derived)' : ''}: ${f.message}`,
      );
      for (const o of f.owners) io.out(`            ${owner(o).padEnd(width)}  ${at(o.loc)}`);
      if (f.reserved)
        io.out(
          `            ${`reserved for ${f.reserved.name}`.padEnd(width)}  ${f.reserved.loc ? at(f.reserved.loc) : '(fleet default)'}`,
        );
      if (f.range)
        io.out(
          `            ${`pc2_network.${f.range.name} ${f.range.start}-${f.range.end}`.padEnd(width)}  ${shown(f.range.file, io.cwd)}`,
        );
    }
  }
}

const owner = (b: Binding) => `${b.machine} ${describeBinding(b)}`;
