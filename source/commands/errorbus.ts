// `opsdeck errorbus phase show|advance|rollback` and `opsdeck errorbus fix-streams`: the P1.3
// migration from a shell. Each change is an Action run through runAction (preview, confirm on
// the exact target, compare-and-swap, verify, audit line), the same the console runs.
import type { Command } from 'commander';
import {
  fixStreamsAction,
  natsOf,
  phaseAction,
  type ErrorBusContext,
} from '../actions/errorbus.js';
import { runAction } from '../actions/run-cli.js';
import { auditPath } from '../adapters/audit.js';
import { judgeStreams } from '../core/errorbus/streams.js';
import { listStreams } from '../adapters/error-streams.js';
import { redact } from '../adapters/nats-link.js';
import { describeRead, PHASE_LOCATION, readPhase } from '../adapters/phase-kv.js';
import type { Machine } from '../core/fleet/model.js';
import type { Direction } from '../core/errorbus/preflight.js';
import { natsServers, startDataPlane, type DataPlane } from '../wiring/data-plane.js';
import { secretsDirFor } from '../actions/catalog.js';
import { operatorLogin } from '../adapters/control-client.js';
import { addFleetOptions, loadFleetArgs, type FleetArgs } from './fleet-args.js';
import { EXIT, Exit, type Io } from './io.js';
import { checkedOption, durationArg } from './options.js';
import { formatDuration } from '../core/duration.js';

export const PHASE_SCHEMA = 'opsdeck.errorbus-phase/1';

interface CommonArgs extends FleetArgs {
  nats?: string;
  dryRun?: boolean;
  yes?: boolean;
  json?: boolean;
  observe?: number;
  window?: number;
  connectTimeout?: number;
}

/** 500ms, 10s, 10m, 1h: the one duration syntax (core/duration.ts), checked as commander reads it. */
export const DURATION = durationArg();

const fail = (io: Io, code: number, message: string): never => {
  io.err(`opsdeck errorbus: ${message}`);
  throw new Exit(code);
};

const hasFleetArgs = (a: FleetArgs) =>
  a.mainpc !== undefined || a.pc2 !== undefined || a.root !== undefined;

/** Runs `fn` with a data plane on the fleet (or no machines) and NATS; always stops it. */
async function withPlane<T>(
  io: Io,
  opts: CommonArgs,
  needFleet: boolean,
  fn: (plane: DataPlane, ctx: ErrorBusContext) => Promise<T>,
): Promise<T> {
  const nats = natsServers(opts.nats, io.env);
  if (!nats)
    fail(io, EXIT.badInput, 'no NATS server: pass --nats URL (or set NATS_SERVERS / NATS_URL)');
  const windowMs = opts.window;
  const connectTimeoutMs = opts.connectTimeout ?? 5000;
  const machines: readonly Machine[] =
    needFleet || hasFleetArgs(opts) ? loadFleetArgs(opts, io, { quiet: true }).machines : [];
  const plane = startDataPlane({
    machines,
    nats: nats!,
    natsLogin: operatorLogin({
      servers: nats!,
      secretsDir: secretsDirFor(machines, io.env),
      env: io.env,
    }),
    live: false,
  });
  const ctx: ErrorBusContext = {
    plane,
    connectTimeoutMs,
    ...(windowMs !== undefined ? { windowMs } : {}),
    args: {
      nats: redact(nats!),
      ...(opts.window !== undefined ? { window: formatDuration(opts.window) } : {}),
      ...(opts.observe !== undefined ? { observe: formatDuration(opts.observe) } : {}),
    },
  };
  try {
    try {
      await natsOf(ctx);
    } catch (error) {
      fail(io, EXIT.findings, (error as Error).message);
    }
    return await fn(plane, ctx);
  } finally {
    await plane.stop();
  }
}

const natsOption = (cmd: Command) =>
  cmd
    .option('--nats <servers>', 'NATS servers (default: $NATS_SERVERS or $NATS_URL)')
    .addOption(
      checkedOption('--connect-timeout <duration>', 'how long to wait for NATS', DURATION, '5s'),
    );

export function registerErrorbus(program: Command, io: Io): void {
  const errorbus = program
    .command('errorbus')
    .description('the error-bus migration ZMQ 7150 -> NATS (P1.3): phases, preflights, streams');
  const phase = errorbus
    .command('phase')
    .description(
      `the phase in ${PHASE_LOCATION}: 0 zmq, 1 dual-publish, 2 nats-consumers, 3 zmq-off`,
    );
  registerPhaseShow(phase, io);
  registerPhaseChange(phase, io, 'advance');
  registerPhaseChange(phase, io, 'rollback');
  registerFixStreams(errorbus, io);
}

/** `errorbus phase show`: the phase, its KV revision, and whether the stored value is readable. */
function registerPhaseShow(phase: Command, io: Io): void {
  natsOption(
    phase
      .command('show')
      .description('print the current phase and its KV revision')
      .option('--json', 'print JSON (schema opsdeck.errorbus-phase/1)'),
  ).action(async (opts: CommonArgs) => {
    await withPlane(io, opts, false, async (plane, ctx) => {
      const read = await readPhase(await natsOf(ctx));
      if (opts.json) {
        io.out(
          JSON.stringify(
            {
              schema: PHASE_SCHEMA,
              phase: read.value.phase,
              name: read.value.name,
              revision: read.revision,
              state: read.state,
              ...(read.invalid ? { invalid: read.invalid } : {}),
              server: plane.link?.getSnapshot().server ?? null,
            },
            null,
            2,
          ),
        );
      } else {
        io.out(`${PHASE_LOCATION}: ${describeRead(read)}`);
      }
      if (read.invalid) throw new Exit(EXIT.findings);
    });
  });
}

/** `errorbus phase advance|rollback`: one step by compare-and-swap, through runAction. */
function registerPhaseChange(phase: Command, io: Io, direction: Direction): void {
  const cmd = phase
    .command(direction)
    .description(
      direction === 'advance'
        ? 'observe both buses, run the preflight for the next phase, and advance one phase by compare-and-swap (exit 1: a check failed, not confirmed, or another console won)'
        : 'roll back one phase by compare-and-swap, after confirmation (no preflight)',
    )
    .option('--dry-run', 'show the preview (and preflight) and change nothing')
    .option('--yes', 'do not ask; the preview is still printed');
  if (direction === 'advance') {
    cmd
      .addOption(
        checkedOption(
          '--observe <duration>',
          'how long to watch both buses before judging',
          DURATION,
          '10s',
        ),
      )
      .addOption(
        checkedOption(
          '--window <duration>',
          'judge publishers seen in this last stretch (the console has been observing all along)',
          DURATION,
          '10m',
        ),
      );
  }
  addFleetOptions(natsOption(cmd)).action(async (opts: CommonArgs) => {
    const observeMs = direction === 'advance' ? (opts.observe ?? 10_000) : 0;
    await withPlane(io, opts, direction === 'advance', async (_plane, ctx) => {
      // What the operator asked to move on from: read before observing, so that another
      // console's change meanwhile stops this run instead of being taken as its starting point.
      ctx.asked = await readPhase(await natsOf(ctx));
      if (observeMs > 0) {
        io.err(`observing both error buses for ${(observeMs / 1000).toFixed(1)} s ...`);
        await new Promise((r) => setTimeout(r, observeMs));
      }
      await runAction(phaseAction(ctx, direction), io, {
        dryRun: opts.dryRun === true,
        yes: opts.yes === true,
        auditPath: auditPath(io.env),
      });
    });
  });
}

/** `errorbus fix-streams`: one ERRORS stream capturing errors.>, when the streams say otherwise. */
function registerFixStreams(errorbus: Command, io: Io): void {
  natsOption(
    errorbus
      .command('fix-streams')
      .description(
        'make one JetStream stream (ERRORS) capture errors.>, retiring streams that split or overlap it (messages kept)',
      )
      .option('--dry-run', 'show the plan and change nothing')
      .option('--yes', 'do not ask; the plan is still printed'),
  ).action(async (opts: CommonArgs) => {
    await withPlane(io, opts, false, async (_plane, ctx) => {
      const verdict = judgeStreams(await listStreams(await natsOf(ctx)));
      if (verdict.ok) {
        io.out(`nothing to fix: ${verdict.evidence}`);
        return;
      }
      await runAction(fixStreamsAction(ctx), io, {
        dryRun: opts.dryRun === true,
        yes: opts.yes === true,
        auditPath: auditPath(io.env),
      });
    });
  });
}
