// `opsdeck errorbus doctor`: who binds and who connects on each machine's error-bus ports, whose
// errors are lost without the bridge (and whose even with it), stream overlaps, and the phase
// each machine is effectively in. Works without NATS too (config + probes only). Exit 1 when
// some publisher's errors reach no one, a machine is behind the KV phase, or the streams are wrong.
import type { Command } from 'commander';
import { runDoctor } from '../wiring/doctor.js';
import { doctorLines } from '../core/errorbus/doctor.js';
import { natsServers, startDataPlane } from '../wiring/data-plane.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { DURATION } from './errorbus.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption } from './options.js';

export const DOCTOR_SCHEMA = 'opsdeck.errorbus-doctor/1';

interface DoctorArgs extends FleetArgs {
  nats?: string;
  observe: number;
  window: number;
  json?: boolean;
  probe: boolean;
}

/** Adds `doctor` under `opsdeck errorbus` (created if nothing registered it yet). */
export function registerErrorbusDoctor(program: Command, io: Io): void {
  const errorbus =
    program.commands.find((c) => c.name() === 'errorbus') ??
    program.command('errorbus').description('the error-bus migration ZMQ 7150 -> NATS (P1.3)');
  addFleetOptions(
    errorbus
      .command('doctor')
      .description(
        'per machine: who binds what on the error-bus ports, whose errors are lost without the bridge, stream overlaps, the phase each machine is effectively in (exit 1: errors reaching no one, a machine behind KV, bad streams)',
      )
      .option(
        '--nats <servers>',
        'NATS servers (default: $NATS_SERVERS or $NATS_URL; without: config and probes only)',
      )
      .addOption(
        checkedOption(
          '--observe <duration>',
          'listen to both buses and the bridges this long first',
          DURATION,
          '3s',
        ),
      )
      .addOption(
        checkedOption(
          '--window <duration>',
          'publishers seen in this last stretch count',
          DURATION,
          '10m',
        ),
      )
      .option('--no-probe', 'do not probe the error-bus ports')
      .option('--json', `print JSON (schema ${DOCTOR_SCHEMA})`),
  ).action(async (opts: DoctorArgs) => {
    const observeMs = opts.observe;
    const windowMs = opts.window;
    const fleet = loadFleetArgs(opts, io, { quiet: true });
    const nats = natsServers(opts.nats, io.env);
    const plane = startDataPlane({
      machines: fleet.machines,
      ...(nats ? { nats } : {}),
      live: false,
      errorsReplayMs: windowMs,
    });
    try {
      if (plane.link) {
        const connected = await Promise.race([
          plane.link.connection(),
          new Promise<undefined>((r) => setTimeout(() => r(undefined), 5000).unref()),
        ]);
        if (!connected)
          io.err(
            `opsdeck errorbus doctor: NATS not reachable in 5 s (${plane.link.getSnapshot().error ?? 'no answer'}): config and probes only`,
          );
      }
      if (observeMs > 0) await new Promise((r) => setTimeout(r, observeMs));
      const { diagnosis } = await runDoctor(plane, { env: io.env, probe: opts.probe, windowMs });
      if (opts.json) io.out(JSON.stringify({ schema: DOCTOR_SCHEMA, ...diagnosis }, null, 2));
      else for (const line of doctorLines(diagnosis)) io.out(line);
      if (!opts.json && diagnosis.findings.length) {
        io.out('');
        io.out(`findings (${diagnosis.findings.length}):`);
        for (const f of diagnosis.findings) io.out(`  - ${f}`);
      }
      if (diagnosis.findings.length) throw new Exit(EXIT.findings);
    } finally {
      await plane.stop();
    }
  });
}
