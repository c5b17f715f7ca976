// `opsdeck config show|validate`: what the loader made of the fleet's files.
import { jsonText } from '../core/errors/sanitise.js';
import type { Command } from 'commander';
import { formatDiagnostic, formatLoc } from '../core/fleet/model.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';

export function registerConfig(program: Command, io: Io): Command {
  const config = program
    .command('config')
    .description('load, validate and migrate the fleet config files');

  addFleetOptions(
    config
      .command('show')
      .description(
        'load the fleet and list machines and agents, with the shape each file was detected as',
      )
      .option('--json', 'print the loaded model as JSON'),
  ).action((opts: FleetArgs & { json?: boolean }) => {
    const fleet = loadFleetArgs(opts, io, { quiet: opts.json === true });
    if (opts.json) {
      io.out(
        jsonText(
          { shapes: fleet.shapes, machines: fleet.machines, diagnostics: fleet.diagnostics },
          2,
        ),
      );
      return;
    }
    for (const m of fleet.machines) {
      const groups = new Set(m.agents.map((a) => a.group));
      io.out(
        `${m.id} (${m.host}): ${m.agents.length} agents in ${groups.size} groups, ${m.source.shape} shape, from ${m.source.file}`,
      );
      for (const a of m.agents) {
        const health = `${a.healthPort.value}${a.healthPortImplicit ? ' (port+1)' : ''}`;
        io.out(
          `  ${a.name.padEnd(34)} ${a.group.padEnd(22)} port ${String(a.port.value).padEnd(6)} health ${health.padEnd(14)} ${formatLoc(a.loc)}`,
        );
      }
    }
  });

  addFleetOptions(
    config
      .command('validate')
      .description(
        'load the fleet; exit 1 if the loader has warnings (duplicate keys, duplicate agents), 2 on errors',
      ),
  ).action((opts: FleetArgs) => {
    const fleet = loadFleetArgs(opts, io, { quiet: true });
    const warnings = fleet.diagnostics.filter((d) => d.severity === 'warning');
    for (const d of warnings) io.out(formatDiagnostic(d));
    const agents = fleet.machines.reduce((n, m) => n + m.agents.length, 0);
    io.out(`${fleet.machines.length} machines, ${agents} agents, ${warnings.length} warnings`);
    if (warnings.length > 0) throw new Exit(EXIT.findings);
  });
  return config;
}
